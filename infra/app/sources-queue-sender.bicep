// Storage Queue Data Message Sender for the Event Grid topic's identity, on the one queue that
// receives source events (and nothing else of the app's storage account).
param storageAccountName string
param queueName string
param principalId string

var storageQueueDataMessageSender = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-09-01' existing = {
  parent: storage
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-09-01' existing = {
  parent: queueService
  name: queueName
}

resource messageSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, principalId, storageQueueDataMessageSender)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataMessageSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output storageAccountId string = storage.id
