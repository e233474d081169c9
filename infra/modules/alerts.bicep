// Alerts to one action group (e-mail):
//   1. a message entered a poison queue (items-poison, deliveries-poison): it failed 5 times;
//   2. no successful pull in 26 hours (the daily pull did not run or failed), quiet until the
//      first successful pull;
//   3. mailbox deliveries failing above a threshold in an hour;
//   4. the daily report counted failed copies (failed > 0).
//   5. evidence verification (verify_evidence) found a mismatch (archiver.evidence.verify.failed).
//
// They query what the code emits (shared/telemetry.py): the metric 'archiver.items'
// {stage, outcome, item_type}, the log records 'archiver.pull.succeeded' and 'archiver.report'
// (its figures as customDimensions report_*), and the storage queue logs the diagnostic setting
// in storage.bicep sends to Log Analytics (QueueMessageCount has no per-queue dimension).
//
// A rule over a diagnostic table (StorageQueueLogs...) sets skipQueryValidation: in a new workspace
// the table does not exist until the first logs flow, and creating the rule would fail with
// SEM0100 (Azure/bicep#11378; the Azure Monitor team's advice in mspnp/aks-baseline#422). main.bicep
// also deploys this module after the storage module (and so its diagnostic setting).

@description('Azure region of the alert rules.')
param location string

@description('Name prefix for the action group and the alert rules.')
param namePrefix string

@description('E-mail address that receives the alerts.')
param alertEmail string

@description('Resource id of Application Insights (app telemetry).')
param appInsightsId string

@description('Resource id of the Log Analytics workspace (storage queue logs).')
param workspaceId string

@description('Failed delivery attempts (errors and final failures) in one hour above which an alert fires.')
@minValue(0)
param deliveryFailureThreshold int = 5

@description('Tags for every resource.')
param tags object = {}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-ag'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: take('archiver', 12)
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

var poisonQuery = '''
StorageQueueLogs
| where OperationName == "PutMessage" and toint(StatusCode) between (200 .. 299)
| extend Queue = tostring(split(ObjectKey, "/")[2])
| where Queue endswith "-poison"
| summarize Messages = count() by Queue
'''

// One row only when the last successful pull in the query range (2 days) is more than 26 hours
// old: no row before the first pull ever succeeded (a new deployment stays quiet), and none
// while pulls succeed. max() over no rows is null, which the isnotnull filter drops.
var noPullQuery = '''
traces
| where message == "archiver.pull.succeeded"
| summarize LastSuccess = max(timestamp)
| where isnotnull(LastSuccess) and LastSuccess < ago(26h)
'''

var deliveryFailuresQuery = '''
customMetrics
| where name == "archiver.items"
| where tostring(customDimensions.stage) == "deliver"
| where tostring(customDimensions.outcome) in ("failed", "error")
| summarize Failures = sum(valueSum)
'''

var reportFailedQuery = '''
traces
| where message == "archiver.report"
| extend ReportDate = tostring(customDimensions.report_date), Failed = toint(customDimensions.report_failed)
| where Failed > 0
| summarize Failed = max(Failed) by ReportDate
'''

var verifyFailedQuery = '''
traces
| where message == "archiver.evidence.verify.failed"
| summarize Failures = count()
'''

resource poisonAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-poison-queue'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Archiver: a message entered a poison queue'
    description: 'A queue message failed 5 times and was moved to items-poison or deliveries-poison. Read its last error in the daily report, fix the cause, then run: python -m shared redrive.'
    severity: 1
    enabled: true
    scopes: [
      workspaceId
    ]
    // StorageQueueLogs exists only once the queue diagnostic setting has sent logs (see the top).
    skipQueryValidation: true
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: poisonQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'Messages'
          dimensions: [
            {
              name: 'Queue'
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
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource noPullAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-no-pull-26h'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Archiver: no successful pull in 26 hours'
    description: 'The daily pull (pull_delta) has not logged archiver.pull.succeeded for 26 hours although it had succeeded before: the app is stopped, the feed is unreachable or its token expired. Check the pull_delta failures in Application Insights. This alert is not resolved automatically: close it once pulls succeed again.'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    // The longest query range a log alert allows; the query fires between 26 and 48 hours after
    // the last success. Not auto-resolved (the condition goes quiet after 48 hours although the
    // outage may go on), and the e-mail is sent once a day at most.
    overrideQueryTimeRange: 'P2D'
    autoMitigate: false
    muteActionsDuration: 'P1D'
    criteria: {
      allOf: [
        {
          query: noPullQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource deliveryFailuresAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-delivery-failures'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Archiver: mailbox deliveries failing'
    description: 'More than ${deliveryFailureThreshold} delivery attempts failed in the last hour (archiver.items, stage deliver, outcome failed or error). Common causes: Graph permission or Exchange RBAC scope missing for a mailbox, mailbox not found, throttling beyond retries.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: deliveryFailuresQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'Failures'
          operator: 'GreaterThan'
          threshold: deliveryFailureThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource reportFailedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-report-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Archiver: the daily report counts failed copies'
    description: 'The daily admin report (archiver.report) has failed > 0: some mailbox copies were not archived. Open reports/{date}.html for the items, mailboxes and reasons.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT2H'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: reportFailedQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'Failed'
          dimensions: [
            {
              name: 'ReportDate'
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
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource verifyFailedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-evidence-verify-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Archiver: evidence verification found a mismatch'
    description: 'verify_evidence logged archiver.evidence.verify.failed: a stored item, attachment, record or manifest no longer matches its hash, the manifest chain is broken, or a mailbox copy is missing or moved. Run python -m shared verify --from D --to D --graph for the named mismatches (docs/evidence.md).'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: verifyFailedQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'Failures'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
output alertRuleNames array = [
  poisonAlert.name
  noPullAlert.name
  deliveryFailuresAlert.name
  reportFailedAlert.name
  verifyFailedAlert.name
]
