// The Function App on the Flex Consumption plan, and every app setting it reads in Azure.
// Flex Consumption takes the runtime and scale from `functionAppConfig`; it rejects the older
// settings that carried them (FUNCTIONS_WORKER_RUNTIME, WEBSITE_RUN_FROM_PACKAGE, …).
// Order matters: the app gets its settings, and so starts its host, only after App Service
// Authentication is in place, so it never serves a request that authentication did not see.
import { resourceTags } from '../types.bicep'

param name string
param planName string
param location string
param tags resourceTags

@description('The azd service (azure.yaml) deployed to this app.')
param serviceName string = 'api'

param storageAccountName string
param deploymentContainerName string
param identityId string
param identityClientId string
param applicationInsightsConnectionString string
param keyVaultUri string

@description('Application (client) id of the Entra app registration whose tokens App Service Authentication accepts.')
param entraClientId string

@description('NCRONTAB (six fields, UTC) of the scheduled refresh.')
param refreshSchedule string

@description('How long the audit log keeps its entries, in days.')
param auditRetentionDays int
@description('NCRONTAB (six fields, UTC) of the rescan of every segment source.')
param sourceScanSchedule string

@description('Memory of each instance, in MB.')
param instanceMemoryMB int

@description('Most instances the app scales out to.')
param maximumInstanceCount int

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// No user names and passwords for deployment: azd deploys with an Entra token, and so must anyone else.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

module auth 'auth.bicep' = {
  name: 'auth'
  params: {
    functionAppName: functionApp.name
    entraClientId: entraClientId
  }
}

// One resource holds every setting: a setting missing here is missing in Azure
// (test/infra/drift.test.ts compares these names with src/config.ts).
resource appSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: {
    // Identity-based host storage: no connection string exists, since shared keys are off.
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // DefaultAzureCredential picks the user-assigned identity by this client id (Key Vault).
    AZURE_CLIENT_ID: identityClientId
    KEY_VAULT_URL: keyVaultUri
    REFRESH_SCHEDULE: refreshSchedule
    AUDIT_RETENTION_DAYS: string(auditRetentionDays)
    SOURCE_SCAN_SCHEDULE: sourceScanSchedule
    // Brevo calls the import webhook here; it is outside App Service Authentication.
    PUBLIC_BASE_URL: 'https://${functionApp.properties.defaultHostName}'
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    // Local authentication is off on Application Insights: telemetry is sent with the identity.
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  }
  // Without settings the host cannot start: it starts once authentication guards every route.
  dependsOn: [
    auth
  ]
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output uri string = 'https://${functionApp.properties.defaultHostName}'
