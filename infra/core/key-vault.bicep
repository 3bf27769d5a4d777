// Provider API keys live here and nowhere else. Access is by Azure RBAC only (no access
// policies); deleted secrets and the vault itself stay recoverable for 90 days. Every access
// (who read or wrote which secret) is logged to the Log Analytics workspace.
import { resourceTags } from '../types.bicep'

param name string
param location string
param tags resourceTags

@description('Resource id of the Log Analytics workspace that receives the audit log and metrics.')
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// The newest stable version (2016-09-01) predates category groups and resource-specific tables;
// 2021-05-01-preview is the version Azure's own templates use for both.
#disable-next-line use-recent-api-versions
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    // Resource-specific tables (AZKVAuditLogs) rather than the shared AzureDiagnostics table.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
