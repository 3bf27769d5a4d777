// Azure Monitor for the app: an alert on runs that end failed or partially succeeded (a scheduled
// query over the app's telemetry in Application Insights) with an action group that e-mails the
// address the deployment names — no address, no alert — and a workbook of the app's metrics over
// time. The metric names are those of src/app/telemetry.ts (METRICS).
import { resourceTags } from '../types.bicep'

param applicationInsightsName string
param location string
param tags resourceTags

@description('Who is e-mailed when a run fails or partially succeeds; empty: no alert rule and no action group.')
param alertEmail string

@description('How often the alert query runs, and over how long a window.')
param evaluationFrequency string = 'PT15M'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var alerting = !empty(alertEmail)
var runsEnded = 'segment_export.runs.ended'
var failedRunsQuery = 'customMetrics\n| where name == "${runsEnded}"\n| extend status = tostring(customDimensions.status), exportId = tostring(customDimensions.exportId), runId = tostring(customDimensions.runId)\n| where status in ("failed", "partially_succeeded")\n| summarize runs = sum(valueSum) by status, exportId, runId'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (alerting) {
  name: 'ag-${applicationInsightsName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'segexport'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource failedRuns 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = if (alerting) {
  name: 'alert-failed-runs-${applicationInsightsName}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'segment-export: runs failed or partially succeeded'
    description: 'A run of an export ended failed or partially succeeded (rejected records, failed chunks, a refused key, a safety threshold).'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: evaluationFrequency
    windowSize: evaluationFrequency
    criteria: {
      allOf: [
        {
          query: failedRunsQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'runs'
          dimensions: [
            {
              name: 'status'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'exportId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

var metricChart = [
  {
    title: 'Records sent, rejected, removed and suppressed per provider'
    query: 'customMetrics\n| where name startswith "segment_export.records."\n| extend provider = tostring(customDimensions.provider), outcome = replace_string(name, "segment_export.records.", "")\n| summarize records = sum(valueSum) by bin(timestamp, 1h), series = strcat(provider, " ", outcome)\n| render timechart'
  }
  {
    title: 'Provider requests and 429 answers per provider'
    query: 'customMetrics\n| where name in ("segment_export.provider.requests", "segment_export.provider.throttled")\n| extend provider = tostring(customDimensions.provider), kind = iff(name endswith "throttled", "429", "requests")\n| summarize count = sum(valueSum) by bin(timestamp, 1h), series = strcat(provider, " ", kind)\n| render timechart'
  }
  {
    title: 'Rate-governor wait (ms, average per request) per provider'
    query: 'customMetrics\n| where name == "segment_export.governor.wait"\n| extend provider = tostring(customDimensions.provider)\n| summarize waitMs = sum(valueSum) / sum(valueCount) by bin(timestamp, 1h), provider\n| render timechart'
  }
  {
    title: 'Run duration (s) and runs by status'
    query: 'customMetrics\n| where name in ("segment_export.run.duration", "segment_export.runs.ended")\n| extend status = tostring(customDimensions.status)\n| summarize runs = sumif(valueSum, name == "segment_export.runs.ended"), averageSeconds = sumif(valueSum, name == "segment_export.run.duration") / max_of(sumif(valueCount, name == "segment_export.run.duration"), 1) by bin(timestamp, 1d), status\n| render columnchart'
  }
  {
    title: 'Queue age of chunks (ms, average) per provider'
    query: 'customMetrics\n| where name == "segment_export.chunk.queue_age"\n| extend provider = tostring(customDimensions.provider)\n| summarize ageMs = sum(valueSum) / sum(valueCount) by bin(timestamp, 1h), provider\n| render timechart'
  }
]

var workbookItems = [
  for (chart, index) in metricChart: {
    type: 3
    name: 'chart-${index}'
    content: {
      version: 'KqlItem/1.0'
      title: chart.title
      query: chart.query
      size: 0
      timeContext: {
        durationMs: 604800000
      }
      queryType: 0
      resourceType: 'microsoft.insights/components'
    }
  }
]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsights.id, 'segment-export-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'segment-export operations'
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: string({
      version: 'Notebook/1.0'
      items: workbookItems
      isLocked: false
    })
  }
}

output workbookId string = workbook.id
output alertRuleName string = alerting ? failedRuns.name : ''
