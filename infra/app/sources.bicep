// Segment sources (docs/deployment.md, "Segment sources"): the storage account that Customer
// Insights exports to tells the app about new exports. Deployed in that account's resource group:
// an Event Grid system topic on the account (or the account's existing one, which this adopts),
// a subscription that delivers BlobCreated events of descriptions (model.json, manifests) and of
// csv-folder files to the app's source-events queue with the topic's own identity, and Storage
// Blob Data Reader on the account for the app's identity. The rescan timer reads sources without
// any of this; events only make exports arrive within seconds.
param sourceStorageAccountName string

@description('The account\'s region: a system topic lives in the region of its source.')
param location string

@description('The account\'s existing system topic (an account has at most one); empty: one named after the account.')
param systemTopicName string = ''

import { resourceTags } from '../types.bicep'

param tags resourceTags

@description('The app\'s identity, which reads the exports.')
param principalId string

@description('The app\'s storage account and its resource group: where the events go.')
param appStorageAccountName string
param appResourceGroupName string

@description('The app\'s source-events queue (src/storage/names.ts).')
param queueName string

@description('Blob names that are events worth delivering: CDM descriptions, and csv-folder files.')
param subjectSuffixes string[] = [
  '/model.json'
  '.manifest.cdm.json'
  '.csv'
  '.ndjson'
  '.jsonl'
]

var roleIds = {
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
}

resource sourceAccount 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: sourceStorageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: empty(systemTopicName) ? 'evgt-${sourceStorageAccountName}' : systemTopicName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: sourceAccount.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// The topic's identity may put messages on the one queue, nothing more (in the app's resource group).
module queueSender 'sources-queue-sender.bicep' = {
  name: 'sources-queue-sender'
  scope: resourceGroup(appResourceGroupName)
  params: {
    storageAccountName: appStorageAccountName
    queueName: queueName
    // The assignment is named after the topic's identity, as every role assignment here is (a
    // redeployment finds it); the identity exists only at runtime.
    #disable-next-line what-if-short-circuiting
    principalId: systemTopic.identity.principalId
  }
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: 'segment-export-sources'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    deliveryWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: queueSender.outputs.storageAccountId
          queueName: queueName
          // A week, as the queue's own default; an event older than that is found by the rescan.
          queueMessageTimeToLiveInSeconds: 604800
        }
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      advancedFilters: [
        {
          operatorType: 'StringEndsWith'
          key: 'subject'
          values: subjectSuffixes
        }
        // A blob is complete: committed (Blob API) or flushed and closed (Data Lake API).
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: [
            'PutBlob'
            'PutBlockList'
            'CopyBlob'
            'FlushWithClose'
          ]
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

resource storageBlobDataReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(sourceAccount.id, principalId, roleIds.storageBlobDataReader)
  scope: sourceAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output systemTopicName string = systemTopic.name
