// What the operators look at and what wakes them: the "SIS operations" workbook over
// Application Insights, the log search alert rules on the pipeline's health, and the action
// group that emails the operators. Deployed by resources.bicep.
//
// The app's OpenTelemetry instruments reach Application Insights through the Azure Monitor
// exporter as rows of `customMetrics`, named after the instrument, attributes in
// `customDimensions` (Azure/azure-sdk-for-js sdk/monitor/monitor-opentelemetry-exporter
// src/utils/metricUtils.ts, resourceMetricsToEnvelope). Counters and histograms are exported
// with DELTA temporality (src/export/metric.ts, selectAggregationTemporality), so each row is
// one export interval: a counter's increment is `valueSum`; a histogram row carries the
// interval's sum, count, min and max (`valueSum`, `valueCount`, `valueMin`, `valueMax`) but no
// buckets, so percentiles come from the host's `requests` table, never from a histogram; a
// gauge row is the last observed value. Table and columns:
// learn.microsoft.com/azure/azure-monitor/reference/tables/appmetrics (workspace name
// AppMetrics; the Application Insights resource shows it as customMetrics, see
// learn.microsoft.com/azure/azure-monitor/app/convert-classic-resource#table-structure).

@description('Region of the resources that have one.')
param location string

@description('Tags for every resource.')
param tags object

@description('Seeds resource names.')
param resourceToken string

@description('Resource id of the Application Insights component the app reports to.')
param appInsightsId string

@description('Operators\' email addresses, comma-separated; empty: the rules fire in the portal but email nobody.')
param operatorEmails string

@description('Ingest lag, in minutes, above which the lag rule fires (per partition).')
param alertIngestLagMinutes int

@description('Age, in minutes, of the oldest pending delivery above which the backlog rule fires.')
param alertOldestPendingDeliveryMinutes int

@description('Dead letters as a percentage of readings above which the dead-letter rule fires.')
param alertDeadLetterPercent int

@description('HTTP 5xx responses as a percentage of API requests above which the API rule fires.')
param alertApiServerErrorPercent int

@description('Failed function invocations in 15 minutes above which the failures rule fires (per function).')
param alertFunctionFailures int

var emails = filter(map(split(operatorEmails, ','), address => trim(address)), address => !empty(address))

// ---------------------------------------------------------------- workbook

// Every query runs against the workbook's Application Insights component over the time
// range picked at the top (timeContextFromParameter), so none filters on timestamp itself.
var workbookQueries = {
  ingestRate: '''
customMetrics
| where name == 'sis.ingest.readings'
| extend partition = tostring(customDimensions.partition)
| summarize readings = sum(valueSum) by partition, bin(timestamp, 5m)
| render timechart
'''
  ingestLag: '''
customMetrics
| where name == 'sis.ingest.lag.seconds'
| extend partition = tostring(customDimensions.partition)
| summarize lagSeconds = max(valueMax) by partition, bin(timestamp, 5m)
| render timechart
'''
  ingestLagEvents: '''
customMetrics
| where name == 'sis.ingest.lag.events'
| extend partition = tostring(customDimensions.partition)
| summarize lagEvents = max(valueMax) by partition, bin(timestamp, 5m)
| render timechart
'''
  deadLetters: '''
customMetrics
| where name == 'sis.ingest.dead_letters'
| extend reason = tostring(customDimensions.reason)
| summarize deadLetters = sum(valueSum) by reason, bin(timestamp, 15m)
| render columnchart
'''
  alertsBySeverity: '''
customMetrics
| where name == 'sis.alerts.changes'
| extend change = tostring(customDimensions.change), severity = tostring(customDimensions.severity)
| where change in ('raised', 'escalated', 'reopened')
| summarize alerts = sum(valueSum) by severity, bin(timestamp, 15m)
| render columnchart
'''
  deliveryBacklog: '''
customMetrics
| where name == 'sis.deliveries.oldest_pending_age'
| summarize oldestPendingSeconds = max(valueMax) by bin(timestamp, 5m)
| render timechart
'''
  deliveryFailures: '''
customMetrics
| where name == 'sis.deliveries'
| extend channel = tostring(customDimensions.channel), outcome = tostring(customDimensions.outcome)
| summarize delivered = sumif(valueSum, outcome == 'delivered'), failed = sumif(valueSum, outcome == 'failed'), dropped = sumif(valueSum, outcome == 'dropped') by channel
| extend failedPercent = round(100.0 * (failed + dropped) / (delivered + failed + dropped), 2)
| order by failedPercent desc
'''
  apiRate: '''
customMetrics
| where name == 'sis.http.requests'
| extend route = tostring(customDimensions.route)
| summarize requests = sum(valueSum) by route, bin(timestamp, 5m)
| render timechart
'''
  apiErrors: '''
customMetrics
| where name == 'sis.http.requests'
| extend route = tostring(customDimensions.route), method = tostring(customDimensions.method), status = tostring(customDimensions.status)
| summarize requests = sum(valueSum), clientErrors = sumif(valueSum, status startswith '4'), serverErrors = sumif(valueSum, status startswith '5') by route, method
| extend serverErrorPercent = round(100.0 * serverErrors / requests, 2)
| order by serverErrors desc, clientErrors desc
'''
  apiLatency: '''
customMetrics
| where name == 'sis.http.duration'
| extend route = tostring(customDimensions.route), method = tostring(customDimensions.method)
| summarize requests = sum(valueCount), averageSeconds = sum(valueSum) / sum(valueCount), maxSeconds = max(valueMax) by route, method
| order by averageSeconds desc
'''
  functionLatency: '''
requests
| summarize invocations = count(), failures = countif(success == false), p95Ms = percentile(duration, 95) by operation_Name
| order by p95Ms desc
'''
  cosmosCharge: '''
customMetrics
| where name == 'sis.cosmos.request_charge'
| extend operation = tostring(customDimensions.operation)
| summarize requestUnits = sum(valueSum) by operation, bin(timestamp, 15m)
| render timechart
'''
  cosmosThrottled: '''
customMetrics
| where name == 'sis.cosmos.throttled'
| extend operation = tostring(customDimensions.operation)
| summarize throttled = sum(valueSum) by operation
| order by throttled desc
'''
  exceptions: '''
exceptions
| summarize exceptions = count() by operation_Name, type, outerMessage
| top 20 by exceptions
'''
  dependencies: '''
dependencies
| summarize calls = count(), failures = countif(success == false), p95Ms = percentile(duration, 95) by type, target
| order by failures desc, p95Ms desc
'''
}

var workbookCharts = [
  {
    name: 'ingestRate'
    title: 'Readings ingested per 5 minutes, by partition'
    visualization: 'timechart'
  }
  {
    name: 'ingestLag'
    title: 'Ingest lag (seconds behind the newest event), by partition'
    visualization: 'timechart'
  }
  {
    name: 'ingestLagEvents'
    title: 'Ingest lag (events not yet read), by partition'
    visualization: 'timechart'
  }
  {
    name: 'deadLetters'
    title: 'Dead letters, by reason'
    visualization: 'barchart'
  }
  {
    name: 'alertsBySeverity'
    title: 'Equipment alerts raised, escalated or reopened, by severity'
    visualization: 'barchart'
  }
  {
    name: 'deliveryBacklog'
    title: 'Delivery backlog: age of the oldest pending delivery (seconds)'
    visualization: 'timechart'
  }
  {
    name: 'deliveryFailures'
    title: 'Deliveries by channel: delivered, failed, dropped'
    visualization: 'table'
  }
  {
    name: 'apiRate'
    title: 'API requests per 5 minutes, by route'
    visualization: 'timechart'
  }
  {
    name: 'apiErrors'
    title: 'API errors by route (4xx, 5xx)'
    visualization: 'table'
  }
  {
    name: 'apiLatency'
    title: 'API latency by route: average and max (seconds)'
    visualization: 'table'
  }
  {
    name: 'functionLatency'
    title: 'Function invocations, failures and p95 duration (host requests; HTTP functions are the API routes)'
    visualization: 'table'
  }
  {
    name: 'cosmosCharge'
    title: 'Cosmos DB request units, by operation'
    visualization: 'timechart'
  }
  {
    name: 'cosmosThrottled'
    title: 'Cosmos DB throttled requests (429), by operation'
    visualization: 'table'
  }
  {
    name: 'exceptions'
    title: 'Exceptions (host), top 20'
    visualization: 'table'
  }
  {
    name: 'dependencies'
    title: 'Dependencies (host): calls, failures and p95 duration, by target'
    visualization: 'table'
  }
]

var workbookContent = {
  version: 'Notebook/1.0'
  items: concat(
    [
      {
        type: 1
        name: 'intro'
        content: {
          json: '## SIS operations\nThe pipeline (ingest, alerts, deliveries), the API and their dependencies. What each chart means and what to do when an alert rule fires: README, "Operating it".'
        }
      }
      {
        type: 9
        name: 'parameters'
        content: {
          version: 'KqlParameterItem/1.0'
          parameters: [
            {
              id: 'time-range'
              version: 'KqlParameterItem/1.0'
              name: 'TimeRange'
              label: 'Time range'
              type: 4
              isRequired: true
              value: {
                durationMs: 3600000
              }
              typeSettings: {
                selectableValues: [
                  {
                    durationMs: 900000
                  }
                  {
                    durationMs: 3600000
                  }
                  {
                    durationMs: 14400000
                  }
                  {
                    durationMs: 86400000
                  }
                  {
                    durationMs: 604800000
                  }
                ]
              }
            }
          ]
          style: 'pills'
          queryType: 0
          resourceType: 'microsoft.insights/components'
        }
      }
    ],
    map(workbookCharts, chart => {
      type: 3
      name: chart.name
      content: {
        version: 'KqlItem/1.0'
        title: chart.title
        query: trim(workbookQueries[chart.name])
        size: 0
        timeContextFromParameter: 'TimeRange'
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: chart.visualization
      }
    })
  )
  fallbackResourceIds: [
    appInsightsId
  ]
}

// A workbook's name must be a GUID; derived from the component so it is stable across
// deployments. learn.microsoft.com/azure/azure-monitor/visualize/workbooks-automate
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsightsId, 'sis-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'SIS operations'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string(workbookContent)
    version: 'Notebook/1.0'
  }
}

// ---------------------------------------------------------------- alert rules

resource operatorActionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(emails)) {
  name: 'ag-ops-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'sis-ops'
    enabled: true
    emailReceivers: [
      for (address, index) in emails: {
        name: 'operator-${index}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
  }
}

// The contract's instruments are rows of customMetrics, which metric alert rules do not see
// with their dimensions, and the ratios (dead letters per reading, 5xx per request) are not a
// single metric: log search alert rules over the component express all five.
// learn.microsoft.com/azure/templates/microsoft.insights/scheduledqueryrules
var alertRules = [
  {
    name: 'ingest-lag'
    displayName: 'SIS: ingest lag'
    description: 'A partition of the telemetry hub is more than ${alertIngestLagMinutes} minutes behind. README "Operating it": Alert rules.'
    severity: 1
    windowSize: 'PT5M'
    query: '''
customMetrics
| where name == 'sis.ingest.lag.seconds'
| extend partition = tostring(customDimensions.partition)
| summarize lagSeconds = max(valueMax) by partition
'''
    measure: 'lagSeconds'
    threshold: alertIngestLagMinutes * 60
    dimensions: [
      {
        name: 'partition'
        operator: 'Include'
        values: [
          '*'
        ]
      }
    ]
  }
  {
    name: 'delivery-backlog'
    displayName: 'SIS: delivery backlog'
    description: 'An alert delivery has been pending for more than ${alertOldestPendingDeliveryMinutes} minutes. README "Operating it": Alert rules.'
    severity: 1
    windowSize: 'PT5M'
    query: '''
customMetrics
| where name == 'sis.deliveries.oldest_pending_age'
| summarize oldestPendingSeconds = max(valueMax)
'''
    measure: 'oldestPendingSeconds'
    threshold: alertOldestPendingDeliveryMinutes * 60
    dimensions: []
  }
  {
    name: 'dead-letters'
    displayName: 'SIS: dead letters'
    description: 'More than ${alertDeadLetterPercent} % of readings were dead-lettered in 15 minutes. README "Operating it": Alert rules.'
    severity: 2
    windowSize: 'PT15M'
    query: '''
customMetrics
| where name in ('sis.ingest.dead_letters', 'sis.ingest.readings')
| summarize deadLetters = sumif(valueSum, name == 'sis.ingest.dead_letters'), readings = sumif(valueSum, name == 'sis.ingest.readings')
| extend deadLetterPercent = iff(readings > 0, 100.0 * deadLetters / readings, iff(deadLetters > 0, 100.0, 0.0))
'''
    measure: 'deadLetterPercent'
    threshold: alertDeadLetterPercent
    dimensions: []
  }
  {
    name: 'api-server-errors'
    displayName: 'SIS: API 5xx'
    description: 'More than ${alertApiServerErrorPercent} % of API requests answered 5xx in 15 minutes. README "Operating it": Alert rules.'
    severity: 1
    windowSize: 'PT15M'
    query: '''
customMetrics
| where name == 'sis.http.requests'
| summarize requests = sum(valueSum), serverErrors = sumif(valueSum, tostring(customDimensions.status) startswith '5')
| extend serverErrorPercent = iff(requests > 0, 100.0 * serverErrors / requests, 0.0)
'''
    measure: 'serverErrorPercent'
    threshold: alertApiServerErrorPercent
    dimensions: []
  }
  {
    name: 'function-failures'
    displayName: 'SIS: function failures'
    description: 'A function failed more than ${alertFunctionFailures} times in 15 minutes. README "Operating it": Alert rules.'
    severity: 2
    windowSize: 'PT15M'
    query: '''
requests
| where success == false
| summarize failures = count() by operation_Name
'''
    measure: 'failures'
    threshold: alertFunctionFailures
    dimensions: [
      {
        name: 'operation_Name'
        operator: 'Include'
        values: [
          '*'
        ]
      }
    ]
  }
]

// Evaluated every 5 minutes over their window; resolved by themselves once a window is back
// under the threshold (autoMitigate).
resource alertRule 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = [
  for rule in alertRules: {
    name: 'sis-${rule.name}-${resourceToken}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        appInsightsId
      ]
      evaluationFrequency: 'PT5M'
      windowSize: rule.windowSize
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: trim(rule.query)
            timeAggregation: 'Maximum'
            metricMeasureColumn: rule.measure
            operator: 'GreaterThan'
            threshold: rule.threshold
            dimensions: rule.dimensions
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: empty(emails) ? [] : [operatorActionGroup.id]
      }
    }
  }
]

output workbookName string = workbook.name
