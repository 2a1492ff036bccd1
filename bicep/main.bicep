// The whole product in one resource group: `azd up` (or `az deployment sub create`) deploys
// this file. Everything the app reaches, it reaches with its user-assigned managed identity;
// no app setting, parameter default or output holds a key or a connection string with a secret.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd: AZURE_ENV_NAME); names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Primary region of every resource.')
param location string

@description('Name of the resource group; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Entra ID tenant that issues the API\'s bearer tokens; empty: the deploying tenant.')
param authTenantId string = ''

@minLength(1)
@description('Application (client) id of the API\'s app registration: the `aud` of its access tokens.')
param authApiAppId string

@description('Object id of the principal (a user or group, e.g. the DBAs) made Microsoft Entra administrator of MySQL; azd passes the signed-in user.')
param mysqlAdminPrincipalId string

@minLength(1)
@description('Sign-in name of that principal (a UPN or the group\'s display name), as MySQL shows it.')
param mysqlAdminLogin string

@description('Object id of the principal (a group of device identities, or the simulator\'s service principal) given "Azure Event Hubs Data Sender" on the telemetry hub; empty: none.')
param devicePrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
@description('Kind of the device principal.')
param devicePrincipalType string = 'Group'

@description('Also create a send-only SAS rule on the hub for devices that cannot use Entra ID (turns local auth on for the Event Hubs namespace). Its key is never output: read it with az.')
param allowDeviceSasKeys bool = false

@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Most Flex Consumption instances the app scales out to. Keep maximumInstanceCount x mysqlPoolSize under the server\'s max_connections.')
param maximumInstanceCount int = 40

@minValue(1)
@maxValue(200)
@description('MySQL connections per instance (MYSQL_POOL_SIZE).')
param mysqlPoolSize int = 5

@minValue(1)
@maxValue(40)
@description('Event Hubs throughput units (Standard: 1 MB/s or 1,000 events/s in each).')
param eventHubsThroughputUnits int = 1

@minValue(1)
@maxValue(32)
@description('Partitions of the telemetry hub: the most instances that read it in parallel. Fixed once created on Standard.')
param eventHubsPartitionCount int = 4

@minValue(1)
@maxValue(7)
@description('Days the telemetry hub keeps events.')
param eventHubsRetentionDays int = 1

@allowed([
  'serverless'
  'autoscale'
])
@description('Cosmos DB capacity: serverless (pay per request, one region) or autoscale provisioned throughput shared by the database.')
param cosmosCapacityMode string = 'serverless'

@minValue(1000)
@maxValue(1000000)
@description('Autoscale ceiling of the database in RU/s (autoscale mode only).')
param cosmosAutoscaleMaxThroughput int = 1000

@description('Second Cosmos DB region for disaster recovery, with automatic failover (autoscale mode only); empty: none.')
param cosmosSecondaryLocation string = ''

@minValue(1)
@maxValue(100)
@description('Web PubSub units (Standard: 1,000 concurrent connections each).')
param webPubSubCapacity int = 1

@allowed([
  'Balanced_B0'
  'Balanced_B1'
  'Balanced_B3'
  'Balanced_B5'
  'MemoryOptimized_M10'
  'ComputeOptimized_X3'
])
@description('Azure Managed Redis size: rate limits and shared caches (B0: 0.5 GB, the smallest).')
param redisSkuName string = 'Balanced_B0'

@description('Deploy Notification Hubs for push (with its send-only connection string in Key Vault).')
param enableNotificationHubs bool = false

@allowed([
  'Free'
  'Basic'
  'Standard'
])
@description('Notification Hubs namespace tier.')
param notificationHubsSku string = 'Free'

@description('MySQL compute size, e.g. Standard_B1ms (Burstable) or Standard_D2ds_v4 (GeneralPurpose).')
param mysqlSkuName string = 'Standard_B1ms'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
@description('MySQL compute tier; high availability needs GeneralPurpose or MemoryOptimized.')
param mysqlSkuTier string = 'Burstable'

@minValue(20)
@maxValue(16384)
@description('MySQL storage in GiB (grows automatically).')
param mysqlStorageSizeGB int = 32

@minValue(1)
@maxValue(35)
@description('Days of MySQL point-in-time backups.')
param mysqlBackupRetentionDays int = 7

@description('Keep MySQL backups geo-redundant (restore into the paired region after a regional outage).')
param mysqlGeoRedundantBackup bool = false

@allowed([
  'Disabled'
  'SameZone'
  'ZoneRedundant'
])
@description('MySQL high availability: a standby in the same zone or another zone (not on Burstable).')
param mysqlHighAvailability string = 'Disabled'

@description('Deploy a MySQL read replica of the server and send the API\'s GET requests to it (MYSQL_READ_HOST). Read replicas need the General Purpose or Business Critical tier (mysqlSkuTier).')
param mysqlReadReplica bool = false

@description('Public IPv4 address allowed through the MySQL firewall (to run bicep/scripts/create-mysql-user.sh and migrations); empty: none.')
param mysqlClientIpAddress string = ''

@minValue(1)
@maxValue(3650)
@description('Days a window aggregate is kept (AGGREGATE_TTL_DAYS).')
param aggregateTtlDays int = 90

@minValue(1)
@maxValue(365)
@description('Days a dead letter is kept (DEAD_LETTER_TTL_DAYS).')
param deadLetterTtlDays int = 14

@description('Where Communication Services (email and SMS) keeps data at rest: a geography such as Europe, United States, UK, Norway.')
param communicationDataLocation string = 'Europe'

@description('Share of traces sent to Application Insights, 0 to 1 (TRACES_SAMPLING_RATIO): metrics are never sampled, so a tenth of the traces keeps ingestion cost down while every figure stays exact.')
param tracesSamplingRatio string = '0.1'

@description('E.164 number (e.g. +14255550123) bought on the Communication Services resource that SMS are sent from (SMS_FROM_NUMBER); empty: SMS off. Buying it is a manual step, see README "Deploy to Azure".')
param smsFromNumber string = ''

@description('Operators\' email addresses, comma-separated, that the alert rules email (OPERATOR_EMAILS); empty: the rules fire in the portal only.')
param operatorEmails string = ''

@minValue(1)
@maxValue(1440)
@description('Alert when a partition of the telemetry hub is more than this many minutes behind.')
param alertIngestLagMinutes int = 5

@minValue(1)
@maxValue(1440)
@description('Alert when an alert delivery has been pending for more than this many minutes.')
param alertOldestPendingDeliveryMinutes int = 2

@minValue(1)
@maxValue(100)
@description('Alert when more than this percentage of readings is dead-lettered in 15 minutes.')
param alertDeadLetterPercent int = 5

@minValue(1)
@maxValue(100)
@description('Alert when more than this percentage of API requests answers 5xx in 15 minutes.')
param alertApiServerErrorPercent int = 1

@minValue(0)
@maxValue(10000)
@description('Alert when a function fails more than this many times in 15 minutes (0: on any failure).')
param alertFunctionFailures int = 0

var tags = {
  'azd-env-name': environmentName
}

resource resourceGroup 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module resources 'resources.bicep' = {
  name: 'sis-resources'
  scope: resourceGroup
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    authTenantId: empty(authTenantId) ? tenant().tenantId : authTenantId
    authApiAppId: authApiAppId
    mysqlAdminPrincipalId: mysqlAdminPrincipalId
    mysqlAdminLogin: mysqlAdminLogin
    devicePrincipalId: devicePrincipalId
    devicePrincipalType: devicePrincipalType
    allowDeviceSasKeys: allowDeviceSasKeys
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    mysqlPoolSize: mysqlPoolSize
    eventHubsThroughputUnits: eventHubsThroughputUnits
    eventHubsPartitionCount: eventHubsPartitionCount
    eventHubsRetentionDays: eventHubsRetentionDays
    cosmosCapacityMode: cosmosCapacityMode
    cosmosAutoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    cosmosSecondaryLocation: cosmosSecondaryLocation
    webPubSubCapacity: webPubSubCapacity
    redisSkuName: redisSkuName
    enableNotificationHubs: enableNotificationHubs
    notificationHubsSku: notificationHubsSku
    mysqlSkuName: mysqlSkuName
    mysqlSkuTier: mysqlSkuTier
    mysqlStorageSizeGB: mysqlStorageSizeGB
    mysqlBackupRetentionDays: mysqlBackupRetentionDays
    mysqlGeoRedundantBackup: mysqlGeoRedundantBackup
    mysqlHighAvailability: mysqlHighAvailability
    mysqlClientIpAddress: mysqlClientIpAddress
    mysqlReadReplica: mysqlReadReplica
    aggregateTtlDays: aggregateTtlDays
    deadLetterTtlDays: deadLetterTtlDays
    communicationDataLocation: communicationDataLocation
    smsFromNumber: smsFromNumber
    tracesSamplingRatio: tracesSamplingRatio
    operatorEmails: operatorEmails
    alertIngestLagMinutes: alertIngestLagMinutes
    alertOldestPendingDeliveryMinutes: alertOldestPendingDeliveryMinutes
    alertDeadLetterPercent: alertDeadLetterPercent
    alertApiServerErrorPercent: alertApiServerErrorPercent
    alertFunctionFailures: alertFunctionFailures
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup.name
output AZURE_FUNCTION_APP_NAME string = resources.outputs.functionAppName
output AZURE_FUNCTION_APP_URL string = resources.outputs.functionAppUrl
output AZURE_MANAGED_IDENTITY_NAME string = resources.outputs.identityName
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = resources.outputs.identityClientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = resources.outputs.identityPrincipalId
output EVENTHUB_NAMESPACE string = resources.outputs.eventHubsNamespaceName
output EVENTHUB_FULLY_QUALIFIED_NAMESPACE string = resources.outputs.eventHubsFullyQualifiedNamespace
output EVENTHUB_NAME string = resources.outputs.eventHubName
output EVENTHUB_CONSUMER_GROUP string = resources.outputs.eventHubConsumerGroup
output EVENTHUB_DEVICE_SAS_RULE string = resources.outputs.deviceSasRuleName
output COSMOS_ENDPOINT string = resources.outputs.cosmosEndpoint
output COSMOS_DATABASE string = resources.outputs.cosmosDatabase
output WEBPUBSUB_ENDPOINT string = resources.outputs.webPubSubEndpoint
output WEBPUBSUB_HUB string = resources.outputs.webPubSubHub
output MYSQL_SERVER_NAME string = resources.outputs.mysqlServerName
output MYSQL_HOST string = resources.outputs.mysqlHost
output MYSQL_READ_HOST string = resources.outputs.mysqlReadHost
output MYSQL_DATABASE string = resources.outputs.mysqlDatabase
output MYSQL_APP_USER string = resources.outputs.mysqlAppUser
output NOTIFICATION_HUB_NAME string = resources.outputs.notificationHubName
output KEY_VAULT_NAME string = resources.outputs.keyVaultName
output COMMUNICATION_ENDPOINT string = resources.outputs.communicationEndpoint
output EMAIL_SENDER_ADDRESS string = resources.outputs.emailSenderAddress
output AUTH_ISSUER string = resources.outputs.authIssuer
output AUTH_AUDIENCE string = resources.outputs.authAudience
output OPERATIONS_WORKBOOK_NAME string = resources.outputs.operationsWorkbookName
