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
@description('Application (client) id of the Entra app registration with the Admin and Contributor app roles: ENTRA_CLIENT_ID, which the azd hook infra/hooks/entra-app.sh sets (docs/deployment.md). Without it nothing is deployed, so the API is never left open.')
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

@description('E-mail address told when a run fails or partially succeeds (an Azure Monitor alert); empty: no alert.')
param alertEmail string = ''

@minValue(1)
@maxValue(3650)
@description('How long the audit log keeps its entries, in days (AUDIT_RETENTION_DAYS).')
param auditRetentionDays int = 400

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
// Every name is known before the deployment starts: modules get these, not each other's outputs,
// so that what-if can tell what a deployment will change.
var identityName = '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
var storageAccountName = '${abbrs.storageStorageAccounts}${resourceToken}'
var keyVaultName = '${abbrs.keyVaultVaults}${resourceToken}'
var logAnalyticsName = '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
var applicationInsightsName = '${abbrs.insightsComponents}${resourceToken}'
var planName = '${abbrs.webServerFarms}${resourceToken}'
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
  'run-notifications'
  'run-notifications-poison'
  'privacy-erasures'
  'privacy-erasures-poison'
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
  'audit'
  'notifications'
  'erasures'
  'suppressions'
  'sources'
]
var containerNames = [
  'segments'
  'chunks'
  'ledgers'
  'rejects'
]

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: identityName
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: logAnalyticsName
    applicationInsightsName: applicationInsightsName
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    queueNames: queueNames
    tableNames: tableNames
    containerNames: containerNames
    deploymentContainerName: deploymentContainerName
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module keyVault 'core/key-vault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    // Role assignments are named after their principal, as in every azd template: naming them
    // otherwise would make redeployments of existing environments fail (RoleAssignmentExists).
    #disable-next-line what-if-short-circuiting
    principalId: identity.outputs.principalId
    storageAccountName: storageAccountName
    keyVaultName: keyVaultName
    applicationInsightsName: applicationInsightsName
  }
  dependsOn: [
    storage
    keyVault
    monitoring
  ]
}

module functionApp 'app/function-app.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    name: functionAppName
    planName: planName
    location: location
    tags: tags
    storageAccountName: storageAccountName
    deploymentContainerName: deploymentContainerName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUri: keyVault.outputs.uri
    entraClientId: entraClientId
    refreshSchedule: refreshSchedule
    auditRetentionDays: auditRetentionDays
    sourceScanSchedule: sourceScanSchedule
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
  // The app starts as soon as it has its settings: let it find its storage and permissions in place.
  dependsOn: [
    storage
    rbac
  ]
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    applicationInsightsName: applicationInsightsName
    location: location
    tags: tags
    alertEmail: alertEmail
  }
  dependsOn: [
    monitoring
  ]
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
    // Named after its principal like every role assignment here (see rbac above).
    #disable-next-line what-if-short-circuiting
    principalId: identity.outputs.principalId
    appStorageAccountName: storageAccountName
    appResourceGroupName: rg.name
    queueName: 'source-events'
  }
  dependsOn: [
    storage
  ]
}
// -----------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output AZURE_KEY_VAULT_NAME string = keyVaultName
output AZURE_STORAGE_ACCOUNT_NAME string = storageAccountName
output AZURE_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output LOG_ANALYTICS_NAME string = monitoring.outputs.logAnalyticsName
output AZURE_WORKBOOK_ID string = alerts.outputs.workbookId
