// An Azure Monitor workbook, so that an operator sees the archiver's health without writing a
// query: items pulled / imported / unmapped / failed per day, the daily reports' figures,
// delivery latency, Graph throttling and queue depths. It reads the metrics and log records the
// code emits (shared/telemetry.py) and the queue metrics/logs storage.bicep sends to Log Analytics.

@description('Azure region.')
param location string

@description('Display name of the workbook.')
param displayName string = 'WhatsApp Archiver: health'

@description('Resource id of Application Insights (app telemetry).')
param appInsightsId string

@description('Resource id of the Log Analytics workspace (storage queue metrics and logs).')
param workspaceId string

@description('Tags for every resource.')
param tags object = {}

var appInsightsType = 'microsoft.insights/components'
var workspaceType = 'microsoft.operationalinsights/workspaces'

var itemsPerDayQuery = '''
customMetrics
| where name == "archiver.items"
| extend stage = tostring(customDimensions.stage), outcome = tostring(customDimensions.outcome)
| extend figure = case(
    stage == "pull", "pulled",
    stage == "convert" and outcome == "unmapped", "unmapped",
    stage == "convert" and outcome == "rejected", "rejected",
    stage == "deliver" and outcome in ("imported", "partial"), "imported",
    stage == "deliver" and outcome == "failed", "failed",
    "")
| where figure != ""
| summarize Count = sum(valueSum) by Day = bin(timestamp, 1d), figure
| order by Day asc
'''

var reportsQuery = '''
traces
| where message == "archiver.report"
| extend d = customDimensions
| summarize arg_max(timestamp, d) by ReportDate = tostring(d.report_date)
| project ReportDate,
    Available = toint(d.report_available), Copies = toint(d.report_copies),
    Imported = toint(d.report_imported), Partial = toint(d.report_partial),
    Skipped = toint(d.report_skipped), Failed = toint(d.report_failed),
    Pending = toint(d.report_pending), Rejected = toint(d.report_rejected),
    Unmapped = toint(d.report_unmapped), InvariantHolds = tostring(d.report_invariant_holds),
    WrittenAt = timestamp
| order by ReportDate desc
'''

var outcomesQuery = '''
customMetrics
| where name == "archiver.items"
| summarize Count = sum(valueSum) by Stage = tostring(customDimensions.stage), Outcome = tostring(customDimensions.outcome), ItemType = tostring(customDimensions.item_type)
| order by Stage asc, Count desc
'''

var latencyQuery = '''
customMetrics
| where name == "archiver.delivery.latency"
| summarize AverageSeconds = sum(valueSum) / sum(valueCount), MaxSeconds = max(valueMax) by bin(timestamp, 1h)
| order by timestamp asc
'''

var throttlingQuery = '''
customMetrics
| where name in ("archiver.throttled", "archiver.throttle.delay")
| summarize Throttled = sumif(valueSum, name == "archiver.throttled"),
    BackOffSeconds = sumif(valueSum, name == "archiver.throttle.delay") by bin(timestamp, 1h)
| order by timestamp asc
'''

var queueDepthQuery = '''
AzureMetrics
| where ResourceProvider == "MICROSOFT.STORAGE" and MetricName == "QueueMessageCount"
| summarize Messages = max(Maximum) by bin(TimeGenerated, 1h)
| order by TimeGenerated asc
'''

var queueFlowQuery = '''
StorageQueueLogs
| where OperationName in ("PutMessage", "DeleteMessage")
| extend Queue = tostring(split(ObjectKey, "/")[2])
| summarize Added = countif(OperationName == "PutMessage"), Removed = countif(OperationName == "DeleteMessage") by Queue
| extend NetChange = Added - Removed
| order by Queue asc
'''

var workbookContent = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      name: 'intro'
      content: {
        json: '## WhatsApp Archiver\nItems flow pull → convert → deliver. Alerts fire on poison messages, a missing daily pull, failing deliveries and failed copies in the daily report. Per item: Transaction search on the item id.'
      }
    }
    {
      type: 9
      name: 'parameters'
      content: {
        version: 'KqlParameterItem/1.0'
        parameters: [
          {
            id: 'a6c4d8e2-4f1b-4c1e-9a55-0d1f0e7c2b11'
            version: 'KqlParameterItem/1.0'
            name: 'TimeRange'
            label: 'Time range'
            type: 4
            isRequired: true
            value: {
              durationMs: 1209600000
            }
            typeSettings: {
              selectableValues: [
                {
                  durationMs: 86400000
                }
                {
                  durationMs: 604800000
                }
                {
                  durationMs: 1209600000
                }
                {
                  durationMs: 2592000000
                }
              ]
            }
          }
        ]
      }
    }
    {
      type: 3
      name: 'items-per-day'
      content: {
        version: 'KqlItem/1.0'
        title: 'Items pulled / imported / unmapped / rejected / failed per day'
        query: itemsPerDayQuery
        size: 0
        queryType: 0
        resourceType: appInsightsType
        crossComponentResources: [
          appInsightsId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'barchart'
      }
    }
    {
      type: 3
      name: 'daily-reports'
      content: {
        version: 'KqlItem/1.0'
        title: 'Daily reports (copies = imported + partial + skipped + failed + pending)'
        query: reportsQuery
        size: 0
        queryType: 0
        resourceType: appInsightsType
        crossComponentResources: [
          appInsightsId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
      }
    }
    {
      type: 3
      name: 'outcomes'
      content: {
        version: 'KqlItem/1.0'
        title: 'Outcomes by stage and item type'
        query: outcomesQuery
        size: 0
        queryType: 0
        resourceType: appInsightsType
        crossComponentResources: [
          appInsightsId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
      }
    }
    {
      type: 3
      name: 'delivery-latency'
      content: {
        version: 'KqlItem/1.0'
        title: 'Delivery latency per mailbox copy (seconds)'
        query: latencyQuery
        size: 0
        queryType: 0
        resourceType: appInsightsType
        crossComponentResources: [
          appInsightsId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'timechart'
      }
    }
    {
      type: 3
      name: 'throttling'
      content: {
        version: 'KqlItem/1.0'
        title: 'Microsoft Graph throttling (429/503 answers and the back-off asked for)'
        query: throttlingQuery
        size: 0
        queryType: 0
        resourceType: appInsightsType
        crossComponentResources: [
          appInsightsId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'timechart'
      }
    }
    {
      type: 3
      name: 'queue-depth'
      content: {
        version: 'KqlItem/1.0'
        title: 'Queue depth: messages waiting in all queues (hourly)'
        query: queueDepthQuery
        size: 0
        queryType: 0
        resourceType: workspaceType
        crossComponentResources: [
          workspaceId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'timechart'
      }
    }
    {
      type: 3
      name: 'queue-flow'
      content: {
        version: 'KqlItem/1.0'
        title: 'Messages added and removed per queue (a -poison queue with a positive net change needs a redrive)'
        query: queueFlowQuery
        size: 0
        queryType: 0
        resourceType: workspaceType
        crossComponentResources: [
          workspaceId
        ]
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
      }
    }
  ]
  fallbackResourceIds: [
    appInsightsId
  ]
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, appInsightsId, 'archiver-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsightsId
    version: 'Notebook/1.0'
    serializedData: string(workbookContent)
  }
}

output id string = workbook.id
