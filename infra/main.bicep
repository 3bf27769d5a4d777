// segment-export on Azure: `azd up` provisions this template, then deploys the app (azure.yaml).
// Small modules in the style of the Azure Functions TypeScript quickstart; docs/deployment.md
// walks through a deployment, test/infra checks the template without Azure.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@minLength(36)
@maxLength(36)
@description('Application (client) id of the Entra app registration with the Admin and Contributor app roles (docs/deployment.md). Without it nothing is deployed, so the API is never left open.')
param entraClientId string

@description('NCRONTAB (six fields, UTC) of the scheduled refresh.')
param refreshSchedule string = '0 0 2 * * *'

@description('NCRONTAB (six fields, UTC) of the rescan of every segment source.')
param sourceScanSchedule string = '0 */15 * * * *'

@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
@description('Most instances the app scales out to.')
param maximumInstanceCount int = 100

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

// The storage names the app uses (src/storage/names.ts); test/infra/drift.test.ts fails when the
// code and these lists differ.
var queueNames = [
  'export-plan'
  'export-plan-poison'
  'export-chunks-iterable'
  'export-chunks-iterable-poison'
  'export-chunks-brevo'
  'export-chunks-brevo-poison'
  'export-chunks-omnisend'
  'export-chunks-omnisend-poison'
  'source-events'
  'source-events-poison'
]
var tableNames = [
  'connections'
  'segments'
  'exports'
  'runs'
  'runindex'
  'rejects'
  'ledger'
  'governor'
  'targets'
  'webhooks'
  'sources'
]
var containerNames = [
  'segments'
  'chunks'
  'ledgers'
  'rejects'
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    queueNames: queueNames
    tableNames: tableNames
    containerNames: containerNames
    deploymentContainerName: deploymentContainerName
  }
}

module keyVault 'core/key-vault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUri: keyVault.outputs.uri
    refreshSchedule: refreshSchedule
    sourceScanSchedule: sourceScanSchedule
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
  // The app starts as soon as it exists: let it find its permissions in place.
  dependsOn: [
    rbac
  ]
}

module auth 'app/auth.bicep' = {
  name: 'auth'
  scope: rg
  params: {
    functionAppName: functionApp.outputs.name
    entraClientId: entraClientId
  }
}

// Segment sources (issue 14): Event Grid on the account Customer Insights exports to -----------
@description('Storage account that Customer Insights exports segments to; empty: no events (the rescan timer still reads sources).')
param sourceStorageAccountName string = ''

@description('Resource group of that account; empty: this deployment\'s resource group.')
param sourceStorageResourceGroupName string = ''

@description('Region of that account; empty: the region of this deployment.')
param sourceStorageLocation string = ''

@description('The account\'s existing Event Grid system topic, if it has one (an account has at most one); empty: one is created.')
param sourceSystemTopicName string = ''

module sources 'app/sources.bicep' = if (!empty(sourceStorageAccountName)) {
  name: 'sources'
  scope: resourceGroup(empty(sourceStorageResourceGroupName) ? rg.name : sourceStorageResourceGroupName)
  params: {
    sourceStorageAccountName: sourceStorageAccountName
    location: empty(sourceStorageLocation) ? location : sourceStorageLocation
    systemTopicName: sourceSystemTopicName
    tags: tags
    principalId: identity.outputs.principalId
    appStorageAccountName: storage.outputs.name
    appResourceGroupName: rg.name
    queueName: 'source-events'
  }
}
// -----------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output AZURE_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output LOG_ANALYTICS_NAME string = monitoring.outputs.logAnalyticsName
