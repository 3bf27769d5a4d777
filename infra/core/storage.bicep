// The app's storage account: the Functions host, the export queues, the tables and the blob
// containers. Only Entra identities get in: shared keys (and so connection strings and SAS) are off.
// Every read, write and delete of the three services is logged to the Log Analytics workspace.
import { resourceTags } from '../types.bicep'

param name string
param location string
param tags resourceTags

@description('Every queue the app uses, poison queues included (src/storage/names.ts).')
param queueNames string[]

@description('Every table the app uses (src/storage/names.ts).')
param tableNames string[]

@description('Every blob container the app uses (src/storage/names.ts).')
param containerNames string[]

@description('The container Flex Consumption deploys the app package from.')
param deploymentContainerName string

@description('Resource id of the Log Analytics workspace that receives the service logs and metrics.')
param logAnalyticsWorkspaceId string

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-09-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-09-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-09-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-09-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

// The same settings on each service: its logs (StorageRead, StorageWrite, StorageDelete) and its
// transaction metrics, in the resource-specific tables StorageBlobLogs, StorageQueueLogs, StorageTableLogs.
var serviceDiagnostics = {
  workspaceId: logAnalyticsWorkspaceId
  logs: [
    {
      categoryGroup: 'allLogs'
      enabled: true
    }
  ]
  metrics: [
    {
      category: 'Transaction'
      enabled: true
    }
  ]
}

// The newest stable version (2016-09-01) predates category groups; 2021-05-01-preview is the
// version Azure's own templates use for them.
#disable-next-line use-recent-api-versions
resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: serviceDiagnostics
}

// As for the blob service: category groups need the preview API version.
#disable-next-line use-recent-api-versions
resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: queueService
  properties: serviceDiagnostics
}

// As for the blob service: category groups need the preview API version.
#disable-next-line use-recent-api-versions
resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: tableService
  properties: serviceDiagnostics
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
