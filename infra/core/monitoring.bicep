// Logs and metrics: Application Insights stores its data in a Log Analytics workspace, which also
// receives the storage and Key Vault logs. Neither accepts instrumentation keys or shared keys;
// the app sends telemetry with its identity.
import { resourceTags } from '../types.bicep'

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags resourceTags

@description('How long the workspace keeps logs, in days.')
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2026-03-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = applicationInsights.name
output connectionString string = applicationInsights.properties.ConnectionString
output logAnalyticsName string = workspace.name
output logAnalyticsWorkspaceId string = workspace.id
