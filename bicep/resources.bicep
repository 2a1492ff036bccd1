// Every resource of one environment, in one resource group. Deployed by main.bicep.
// The app signs in to each service with one user-assigned managed identity, which holds only
// the data-plane roles the code uses, each scoped as narrowly as the service allows.

@description('Name of the environment; seeds resource names.')
param environmentName string

@description('Region of every resource.')
param location string

@description('Tags for every resource (azd-env-name).')
param tags object

@description('Entra ID tenant that issues the API\'s bearer tokens.')
param authTenantId string

@description('Application (client) id of the API\'s app registration.')
param authApiAppId string

@description('Object id of the MySQL Microsoft Entra administrator.')
param mysqlAdminPrincipalId string

@description('Sign-in name of the MySQL Microsoft Entra administrator.')
param mysqlAdminLogin string

@description('Object id of the device principal given Azure Event Hubs Data Sender; empty: none.')
param devicePrincipalId string

@description('Kind of the device principal.')
param devicePrincipalType string

@description('Create a send-only SAS rule on the hub for devices without Entra ID.')
param allowDeviceSasKeys bool

@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int

@description('Most Flex Consumption instances.')
param maximumInstanceCount int

@description('MySQL connections per instance.')
param mysqlPoolSize int

@description('Event Hubs throughput units.')
param eventHubsThroughputUnits int

@description('Partitions of the telemetry hub.')
param eventHubsPartitionCount int

@description('Days the telemetry hub keeps events.')
param eventHubsRetentionDays int

@description('Cosmos DB capacity: serverless or autoscale.')
param cosmosCapacityMode string

@description('Autoscale ceiling of the database in RU/s.')
param cosmosAutoscaleMaxThroughput int

@description('Second Cosmos DB region (autoscale mode only); empty: none.')
param cosmosSecondaryLocation string

@description('Web PubSub units.')
param webPubSubCapacity int

@description('Azure Managed Redis SKU.')
param redisSkuName string

@description('Deploy Notification Hubs for push.')
param enableNotificationHubs bool

@description('Notification Hubs namespace tier.')
param notificationHubsSku string

@description('MySQL compute size.')
param mysqlSkuName string

@description('MySQL compute tier.')
param mysqlSkuTier string

@description('MySQL storage in GiB.')
param mysqlStorageSizeGB int

@description('Days of MySQL backups.')
param mysqlBackupRetentionDays int

@description('Geo-redundant MySQL backups.')
param mysqlGeoRedundantBackup bool

@description('MySQL high availability mode.')
param mysqlHighAvailability string

@description('Public IPv4 address allowed through the MySQL firewall; empty: none.')
param mysqlClientIpAddress string

@description('Deploy a read replica of the MySQL server for the API\'s reads.')
param mysqlReadReplica bool

@description('Days a window aggregate is kept.')
param aggregateTtlDays int

@description('Days a dead letter is kept.')
param deadLetterTtlDays int

@description('Where Communication Services and its email service keep data at rest.')
param communicationDataLocation string

@description('E.164 number SMS are sent from; empty: SMS off.')
param smsFromNumber string

@description('Share of traces sent to Application Insights, 0 to 1.')
param tracesSamplingRatio string

@description('Operators\' email addresses, comma-separated; empty: alert rules email nobody.')
param operatorEmails string

@description('Ingest lag, in minutes, above which the lag rule fires.')
param alertIngestLagMinutes int

@description('Age, in minutes, of the oldest pending delivery above which the backlog rule fires.')
param alertOldestPendingDeliveryMinutes int

@description('Dead letters as a percentage of readings above which the dead-letter rule fires.')
param alertDeadLetterPercent int

@description('HTTP 5xx responses as a percentage of API requests above which the API rule fires.')
param alertApiServerErrorPercent int

@description('Failed invocations of a function in 15 minutes above which the failures rule fires.')
param alertFunctionFailures int

@secure()
@description('Password of the MySQL server\'s built-in administrator, which Azure requires at creation. Nobody needs it: the server accepts only Entra ID sign-ins (aad_auth_only), so a fresh random value is set on each deployment.')
param mysqlAdministratorPassword string = newGuid()

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName, location))
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var eventHubName = 'telemetry'
var eventHubConsumerGroupName = 'sis-functions'
var cosmosDatabaseName = 'sis'
var webPubSubHubName = 'sis'
// The audience of the tokens Web PubSub calls the event handler with: the API's own app
// registration, which already issues v2.0 tokens (AUTH_ISSUER), so its issuer and keys are
// those of users' tokens; the app accepts only the Web PubSub identity's (oid) among them.
var webPubSubEventsAudience = authApiAppId
var mysqlDatabaseName = 'sis'
var notificationHubName = 'sis'
var serverless = cosmosCapacityMode == 'serverless'

// Built-in role definitions the app (or the devices) need; nothing broader is assigned.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  webPubSubServiceOwner: '12cf5a90-567b-43ae-8102-96cf46c7d9b4'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // keys/read, keys/wrap, keys/unwrap: what webhook secret sealing needs, and no more.
  keyVaultCryptoServiceEncryptionUser: 'e147488a-f6f5-4113-8e2d-b22465e65bf6'
  // Communication and Email Service Owner: the only built-in role that lets an Entra identity
  // send email and SMS (there is no narrower data-plane role); scoped to the one resource.
  // learn.microsoft.com/azure/role-based-access-control/built-in-roles/web-and-mobile
  communicationAndEmailServiceOwner: '09976791-48a7-449e-bb21-39d1a415f350'
}
// Cosmos DB Built-in Data Contributor (a Cosmos SQL role, not an Azure RBAC role).
var cosmosDataContributorRoleId = '00000000-0000-0000-0000-000000000002'

// ---------------------------------------------------------------- identity

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-${resourceToken}'
  location: location
  tags: tags
}

// The MySQL server's own identity, through which it resolves Entra principals; it needs the
// Microsoft Graph permissions granted once by bicep/scripts/grant-mysql-graph.sh.
resource mysqlIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-mysql-${resourceToken}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------- storage

// AzureWebJobsStorage (host leases and keys, timer locks, Event Hubs checkpoints in
// azure-webjobs-eventhub) and the deployment package container. No shared keys.
resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: 'st${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }
}

// ---------------------------------------------------------------- monitoring

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: 'log-${resourceToken}'
  location: location
  tags: tags
  properties: {
    retentionInDays: 30
    sku: {
      name: 'PerGB2018'
    }
    features: {
      disableLocalAuth: true
    }
  }
}

// Entra ID authentication only: telemetry is accepted from the identity (Monitoring Metrics
// Publisher), never with the instrumentation key alone.
resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// The "SIS operations" workbook, the operator alert rules and their action group.
module operations 'operations.bicep' = {
  name: 'sis-operations'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    appInsightsId: appInsights.id
    operatorEmails: operatorEmails
    alertIngestLagMinutes: alertIngestLagMinutes
    alertOldestPendingDeliveryMinutes: alertOldestPendingDeliveryMinutes
    alertDeadLetterPercent: alertDeadLetterPercent
    alertApiServerErrorPercent: alertApiServerErrorPercent
    alertFunctionFailures: alertFunctionFailures
  }
}

// ---------------------------------------------------------------- Event Hubs

resource eventHubsNamespace 'Microsoft.EventHub/namespaces@2026-01-01' = {
  name: 'evhns-${resourceToken}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: eventHubsThroughputUnits
  }
  properties: {
    // SAS is on only for the devices' send-only rule, when asked for.
    disableLocalAuth: !allowDeviceSasKeys
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    isAutoInflateEnabled: false
  }

  resource hub 'eventhubs' = {
    name: eventHubName
    properties: {
      partitionCount: eventHubsPartitionCount
      messageRetentionInDays: eventHubsRetentionDays
    }

    resource consumerGroup 'consumergroups' = {
      name: eventHubConsumerGroupName
    }

    // Devices that cannot use Entra ID: send only, on this hub only.
    resource deviceSendRule 'authorizationRules' = if (allowDeviceSasKeys) {
      name: 'devices-send'
      properties: {
        rights: [
          'Send'
        ]
      }
    }
  }
}

// ---------------------------------------------------------------- Cosmos DB

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2025-04-15' = {
  name: 'cosmos-${resourceToken}'
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    enableAutomaticFailover: !serverless && !empty(cosmosSecondaryLocation)
    capabilities: serverless
      ? [
          {
            name: 'EnableServerless'
          }
        ]
      : []
    locations: concat(
      [
        {
          locationName: location
          failoverPriority: 0
          isZoneRedundant: false
        }
      ],
      !serverless && !empty(cosmosSecondaryLocation)
        ? [
            {
              locationName: cosmosSecondaryLocation
              failoverPriority: 1
              isZoneRedundant: false
            }
          ]
        : []
    )
  }

  resource database 'sqlDatabases' = {
    name: cosmosDatabaseName
    properties: {
      resource: {
        id: cosmosDatabaseName
      }
      options: serverless
        ? {}
        : {
            autoscaleSettings: {
              maxThroughput: cosmosAutoscaleMaxThroughput
            }
          }
    }

    // The containers mirror telemetryContainers in lib/cosmos/client.ts (tests/bicep checks
    // that they agree): the app cannot create containers with Entra ID data-plane roles.

    // TTL on without a default: each aggregate carries its own ttl (AGGREGATE_TTL_DAYS).
    resource aggregates 'containers' = {
      name: 'aggregates'
      properties: {
        resource: {
          id: 'aggregates'
          partitionKey: {
            paths: [
              '/equipmentId'
            ]
            kind: 'Hash'
            version: 2
          }
          defaultTtl: -1
          indexingPolicy: {
            indexingMode: 'consistent'
            automatic: true
            includedPaths: [
              {
                path: '/*'
              }
            ]
            excludedPaths: [
              {
                path: '/"_etag"/?'
              }
            ]
          }
        }
      }
    }

    // TTL off: alerts stay. The list pages newest first, ties broken by id.
    resource alerts 'containers' = {
      name: 'alerts'
      properties: {
        resource: {
          id: 'alerts'
          partitionKey: {
            paths: [
              '/equipmentId'
            ]
            kind: 'Hash'
            version: 2
          }
          indexingPolicy: {
            indexingMode: 'consistent'
            automatic: true
            includedPaths: [
              {
                path: '/*'
              }
            ]
            excludedPaths: [
              {
                path: '/"_etag"/?'
              }
            ]
            compositeIndexes: [
              [
                {
                  path: '/raisedAt'
                  order: 'descending'
                }
                {
                  path: '/id'
                  order: 'descending'
                }
              ]
            ]
          }
        }
      }
    }

    // Default TTL 30 days; each record carries its own ttl (DEAD_LETTER_TTL_DAYS).
    resource deadLetters 'containers' = {
      name: 'deadLetters'
      properties: {
        resource: {
          id: 'deadLetters'
          partitionKey: {
            paths: [
              '/equipmentId'
            ]
            kind: 'Hash'
            version: 2
          }
          defaultTtl: 2592000
          indexingPolicy: {
            indexingMode: 'consistent'
            automatic: true
            includedPaths: [
              {
                path: '/*'
              }
            ]
            excludedPaths: [
              {
                path: '/"_etag"/?'
              }
            ]
            compositeIndexes: [
              [
                {
                  path: '/enqueuedTime'
                  order: 'descending'
                }
                {
                  path: '/id'
                  order: 'descending'
                }
              ]
            ]
          }
        }
      }
    }

    // The delivery log: one partition per alert, entries kept 90 days after their last
    // attempt; listed newest first by first attempt, ties broken by id.
    resource deliveries 'containers' = {
      name: 'deliveries'
      properties: {
        resource: {
          id: 'deliveries'
          partitionKey: {
            paths: [
              '/alertId'
            ]
            kind: 'Hash'
            version: 2
          }
          defaultTtl: 7776000
          indexingPolicy: {
            indexingMode: 'consistent'
            automatic: true
            includedPaths: [
              {
                path: '/*'
              }
            ]
            excludedPaths: [
              {
                path: '/"_etag"/?'
              }
            ]
            compositeIndexes: [
              [
                {
                  path: '/firstAttemptAt'
                  order: 'descending'
                }
                {
                  path: '/id'
                  order: 'descending'
                }
              ]
            ]
          }
        }
      }
    }

    // Partition states never expire; batch partials carry their own ttl.
    resource pipelineState 'containers' = {
      name: 'pipelineState'
      properties: {
        resource: {
          id: 'pipelineState'
          partitionKey: {
            paths: [
              '/pk'
            ]
            kind: 'Hash'
            version: 2
          }
          defaultTtl: -1
          indexingPolicy: {
            indexingMode: 'consistent'
            automatic: true
            includedPaths: [
              {
                path: '/*'
              }
            ]
            excludedPaths: [
              {
                path: '/"_etag"/?'
              }
            ]
          }
        }
      }
    }
  }

  // Read and write items in the app's database only (not the whole account).
  resource appDataContributor 'sqlRoleAssignments' = {
    name: guid(cosmos.id, cosmosDatabaseName, identity.id, cosmosDataContributorRoleId)
    properties: {
      roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}'
      principalId: identity.properties.principalId
      scope: '${cosmos.id}/dbs/${cosmosDatabaseName}'
    }
  }
}

// ---------------------------------------------------------------- Web PubSub

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' = {
  name: 'wps-${resourceToken}'
  location: location
  tags: tags
  sku: {
    name: 'Standard_S1'
    tier: 'Standard'
    capacity: webPubSubCapacity
  }
  // Its own identity, so it can call the app's event handler with an Entra token (access keys
  // are off, so it cannot sign events with ce-signature the app could check).
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    disableLocalAuth: true
    disableAadAuth: false
    publicNetworkAccess: 'Enabled'
  }

  resource hub 'hubs' = {
    name: webPubSubHubName
    properties: {
      // Clients connect only with URLs from /api/negotiate.
      anonymousConnectPolicy: 'deny'
      // Technicians' apps send their position as the client event `location`
      // (functions/webPubSubEvents.ts). The service calls the handler with an Entra token of
      // its own identity for this audience in the Authorization header, which the app checks
      // (WEBPUBSUB_EVENTS_* below); MicrosoftDocs/azure-docs articles/azure-web-pubsub/
      // howto-use-managed-identity.md, "Use a managed identity in client events scenarios",
      // and the hub template (Microsoft.SignalRService/webPubSub/hubs, eventHandlers[].auth
      // { type: 'ManagedIdentity', managedIdentity: { resource } }).
      eventHandlers: [
        {
          urlTemplate: 'https://${functionApp.properties.defaultHostName}/api/webpubsub/events'
          userEventPattern: 'location'
          systemEvents: []
          auth: {
            type: 'ManagedIdentity'
            managedIdentity: {
              resource: webPubSubEventsAudience
            }
          }
        }
      ]
    }
  }
}

// ---------------------------------------------------------------- Azure Managed Redis
// Rate limits and shared caches (lib/redis/client.ts). TLS only (clientProtocol Encrypted),
// access keys off: the app signs in with an Entra token of its identity, which the access
// policy assignment below lets in with the built-in "default" policy (the only one Azure
// Managed Redis supports; learn.microsoft.com/azure/templates/microsoft.cache/2025-04-01/
// redisenterprise/databases/accesspolicyassignments). EnterpriseCluster: one endpoint that
// a non-cluster client (node-redis createClient) can use.

resource redis 'Microsoft.Cache/redisEnterprise@2025-04-01' = {
  name: 'redis-${resourceToken}'
  location: location
  tags: tags
  sku: {
    name: redisSkuName
  }
  properties: {
    minimumTlsVersion: '1.2'
  }

  resource database 'databases' = {
    // Azure Managed Redis has one database per cache, and it must be called "default".
    name: 'default'
    properties: {
      clientProtocol: 'Encrypted'
      port: 10000
      clusteringPolicy: 'EnterpriseCluster'
      // Everything the app keeps there expires; under memory pressure the soonest-expiring
      // cached copies go first, and nothing is lost that MySQL does not hold.
      evictionPolicy: 'VolatileLRU'
      accessKeysAuthentication: 'Disabled'
    }

    resource appAccess 'accessPolicyAssignments' = {
      name: 'app'
      properties: {
        accessPolicyName: 'default'
        user: {
          objectId: identity.properties.principalId
        }
      }
    }
  }
}

// ---------------------------------------------------------------- Notification Hubs

resource notificationHubsNamespace 'Microsoft.NotificationHubs/namespaces@2023-09-01' = if (enableNotificationHubs) {
  name: 'ntfns-${resourceToken}'
  location: location
  tags: tags
  sku: {
    name: notificationHubsSku
  }
  properties: {
    namespaceType: 'NotificationHub'
  }

  resource hub 'notificationHubs' = {
    name: notificationHubName
    location: location
    tags: tags
    properties: {}

    // The SDK accepts only a connection string: the app gets one of a send-only rule,
    // through Key Vault.
    resource appSendRule 'authorizationRules' = {
      name: 'app-send'
      properties: {
        rights: [
          'Send'
        ]
      }
    }
  }
}

// The vault holds the key that wraps webhook secrets (lib/fanout/webhookSecrets.ts) and,
// with push, the Notification Hubs connection string. Purge protection: a deleted key (and
// with it every webhook secret it wrapped) stays recoverable for the retention period.
resource keyVault 'Microsoft.KeyVault/vaults@2026-02-01' = {
  name: 'kv-${resourceToken}'
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }

  resource notificationHubsConnection 'secrets' = if (enableNotificationHubs) {
    name: 'notification-hubs-connection'
    properties: {
      value: notificationHubsNamespace::hub::appSendRule!.listKeys().primaryConnectionString
      contentType: 'Notification Hubs connection string (send only)'
    }
  }

  // Wraps each webhook secret's data key (RSA-OAEP-256); it never leaves the vault.
  resource webhookSecretsKey 'keys' = {
    name: 'webhook-secrets'
    properties: {
      kty: 'RSA'
      keySize: 3072
      keyOps: [
        'wrapKey'
        'unwrapKey'
      ]
      attributes: {
        enabled: true
        exportable: false
      }
    }
  }
}

// ---------------------------------------------------------------- Communication Services

// Email and SMS (lib/fanout/communication.ts). An email service with an Azure-managed domain
// (DoNotReply@<guid>.azurecomm.net, no DNS to verify) linked to the Communication Services
// resource the app sends through with its identity; access keys are off. Both are global
// resources whose data stays in communicationDataLocation. A phone number for SMS cannot be
// bought by a template: see README "Deploy to Azure".
// learn.microsoft.com/javascript/api/@azure/arm-communication/communicationserviceproperties
resource emailService 'Microsoft.Communication/emailServices@2025-05-01' = {
  name: 'ecs-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    dataLocation: communicationDataLocation
  }

  resource managedDomain 'domains' = {
    // The service requires this name for the Azure-managed domain.
    name: 'AzureManagedDomain'
    location: 'global'
    tags: tags
    properties: {
      domainManagement: 'AzureManaged'
      userEngagementTracking: 'Disabled'
    }
  }
}

resource communication 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: 'acs-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    dataLocation: communicationDataLocation
    disableLocalAuth: true
    linkedDomains: [
      emailService::managedDomain.id
    ]
  }
}

// ---------------------------------------------------------------- MySQL

resource mysql 'Microsoft.DBforMySQL/flexibleServers@2024-12-30' = {
  name: 'mysql-${resourceToken}'
  location: location
  tags: tags
  sku: {
    name: mysqlSkuName
    tier: mysqlSkuTier
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${mysqlIdentity.id}': {}
    }
  }
  properties: {
    version: '8.0.21'
    administratorLogin: 'sisadmin'
    administratorLoginPassword: mysqlAdministratorPassword
    storage: {
      storageSizeGB: mysqlStorageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: mysqlBackupRetentionDays
      geoRedundantBackup: mysqlGeoRedundantBackup ? 'Enabled' : 'Disabled'
    }
    highAvailability: {
      mode: mysqlHighAvailability
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }

  resource database 'databases' = {
    name: mysqlDatabaseName
    properties: {
      charset: 'utf8mb4'
      collation: 'utf8mb4_unicode_ci'
    }
  }

  // The server takes one change at a time: its children are applied in a chain.
  resource entraAdmin 'administrators' = {
    name: 'ActiveDirectory'
    dependsOn: [
      database
    ]
    properties: {
      administratorType: 'ActiveDirectory'
      identityResourceId: mysqlIdentity.id
      login: mysqlAdminLogin
      sid: mysqlAdminPrincipalId
      tenantId: tenant().tenantId
    }
  }

  resource requireSecureTransport 'configurations' = {
    name: 'require_secure_transport'
    dependsOn: [
      entraAdmin
    ]
    properties: {
      value: 'ON'
      source: 'user-override'
    }
  }

  resource entraOnly 'configurations' = {
    name: 'aad_auth_only'
    dependsOn: [
      requireSecureTransport
    ]
    properties: {
      value: 'ON'
      source: 'user-override'
    }
  }

  // Flex Consumption has no fixed outbound addresses: allow Azure services (still TLS and
  // Entra ID only). Put the app in a virtual network with private access to close this.
  resource allowAzure 'firewallRules' = {
    name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
    dependsOn: [
      entraOnly
    ]
    properties: {
      startIpAddress: '0.0.0.0'
      endIpAddress: '0.0.0.0'
    }
  }

  resource allowClient 'firewallRules' = if (!empty(mysqlClientIpAddress)) {
    name: 'AllowDeployingClient'
    dependsOn: [
      allowAzure
    ]
    properties: {
      startIpAddress: mysqlClientIpAddress
      endIpAddress: mysqlClientIpAddress
    }
  }
}

// A read replica: a server of its own, kept up to date by the service with the source's
// binary log replication, so it holds the source's database, users and Entra sign-ins; the
// app reaches it as MYSQL_READ_HOST the way it reaches MYSQL_HOST. Created after the
// source's configuration chain (one change at a time), with the source's SKU.
// learn.microsoft.com/azure/mysql/flexible-server/concepts-read-replicas
resource mysqlReplica 'Microsoft.DBforMySQL/flexibleServers@2024-12-30' = if (mysqlReadReplica) {
  name: 'mysql-${resourceToken}-replica'
  location: location
  tags: tags
  sku: {
    name: mysqlSkuName
    tier: mysqlSkuTier
  }
  dependsOn: [
    mysql::allowAzure
  ]
  properties: {
    createMode: 'Replica'
    sourceServerResourceId: mysql.id
  }
}

// ---------------------------------------------------------------- function app

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: 'plan-${resourceToken}'
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

var appSettings = {
  // Host storage through the identity: blobs (leases, keys, Event Hubs checkpoints) and
  // tables (host diagnostic events). No queue- or blob-triggered functions, so no queues.
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  TRACES_SAMPLING_RATIO: tracesSamplingRatio
  MYSQL_HOST: mysql.properties.fullyQualifiedDomainName
  MYSQL_USER: identity.name
  MYSQL_DATABASE: mysqlDatabaseName
  MYSQL__credential: 'managedidentity'
  MYSQL__clientId: identity.properties.clientId
  MYSQL_POOL_SIZE: string(mysqlPoolSize)
  // Empty without a replica: the app then reads from MYSQL_HOST (empty settings count as unset).
  MYSQL_READ_HOST: mysqlReadReplica ? mysqlReplica!.properties.fullyQualifiedDomainName : ''
  AUTH_ISSUER: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
  AUTH_AUDIENCE: authApiAppId
  AUTH_JWKS_URI: '${environment().authentication.loginEndpoint}${authTenantId}/discovery/v2.0/keys'
  COSMOS__accountEndpoint: cosmos.properties.documentEndpoint
  COSMOS__credential: 'managedidentity'
  COSMOS__clientId: identity.properties.clientId
  COSMOS_DATABASE: cosmosDatabaseName
  EventHubConnection__fullyQualifiedNamespace: eventHubsFullyQualifiedNamespace
  EventHubConnection__credential: 'managedidentity'
  EventHubConnection__clientId: identity.properties.clientId
  EVENTHUB_NAME: eventHubName
  EVENTHUB_CONSUMER_GROUP: eventHubConsumerGroupName
  WEBPUBSUB__endpoint: 'https://${webPubSub.properties.hostName}'
  WEBPUBSUB__credential: 'managedidentity'
  WEBPUBSUB__clientId: identity.properties.clientId
  WEBPUBSUB_HUB: webPubSubHubName
  WEBPUBSUB_EVENTS_AUDIENCE: webPubSubEventsAudience
  WEBPUBSUB_EVENTS_ISSUER: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
  WEBPUBSUB_EVENTS_JWKS_URI: '${environment().authentication.loginEndpoint}${authTenantId}/discovery/v2.0/keys'
  WEBPUBSUB_EVENTS_PRINCIPAL_ID: webPubSub.identity.principalId
  REDIS__hostName: redis.properties.hostName
  REDIS_PORT: string(redis::database.properties.port)
  REDIS__credential: 'managedidentity'
  REDIS__clientId: identity.properties.clientId
  AGGREGATE_TTL_DAYS: string(aggregateTtlDays)
  DEAD_LETTER_TTL_DAYS: string(deadLetterTtlDays)
  // Versionless: each wrap uses the key's current version and the secret records which.
  WEBHOOK_SECRET_KEY_ID: keyVault::webhookSecretsKey.properties.keyUri
  WEBHOOK_SECRET_KEY__clientId: identity.properties.clientId
  COMMUNICATION__endpoint: 'https://${communication.properties.hostName}'
  COMMUNICATION__credential: 'managedidentity'
  COMMUNICATION__clientId: identity.properties.clientId
  EMAIL_SENDER_ADDRESS: 'DoNotReply@${emailService::managedDomain.properties.mailFromSenderDomain}'
  // Empty until a number is bought and set (smsFromNumber): SMS stays off.
  SMS_FROM_NUMBER: smsFromNumber
}

// Push, when deployed: the send-only connection string stays in Key Vault; the platform
// resolves the reference with the identity (keyVaultReferenceIdentity).
var pushAppSettings = enableNotificationHubs
  ? {
      NOTIFICATION_HUBS_CONNECTION: '@Microsoft.KeyVault(SecretUri=${keyVault::notificationHubsConnection!.properties.secretUri})'
      NOTIFICATION_HUB_NAME: notificationHubName
    }
  : {}

// https://<namespace>.servicebus.windows.net:443/ -> <namespace>.servicebus.windows.net
var eventHubsFullyQualifiedNamespace = split(split(eventHubsNamespace.properties.serviceBusEndpoint, '//')[1], ':')[0]

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: functionAppName
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      minTlsVersion: '1.2'
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
            userAssignedIdentityResourceId: identity.id
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

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, pushAppSettings, {
      // The dashboard links in emails and SMS point here.
      APP_PUBLIC_URL: 'https://${functionApp.properties.defaultHostName}'
    })
  }

  // Deployments sign in with Entra ID (azd, az functionapp deploy), never basic credentials.
  resource ftpCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

// ---------------------------------------------------------------- role assignments

resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Listen on the telemetry hub only (includes the partition properties the idle-window
// timer reads).
resource eventHubReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHubsNamespace::hub.id, identity.id, roles.eventHubsDataReceiver)
  scope: eventHubsNamespace::hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource deviceSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(devicePrincipalId)) {
  name: guid(eventHubsNamespace::hub.id, devicePrincipalId, roles.eventHubsDataSender)
  scope: eventHubsNamespace::hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataSender)
    principalId: devicePrincipalId
    principalType: devicePrincipalType
  }
}

resource webPubSubOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(webPubSub.id, identity.id, roles.webPubSubServiceOwner)
  scope: webPubSub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.webPubSubServiceOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Wrap and unwrap with this one key, not every key of the vault.
resource webhookKeyUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault::webhookSecretsKey.id, identity.id, roles.keyVaultCryptoServiceEncryptionUser)
  scope: keyVault::webhookSecretsKey
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCryptoServiceEncryptionUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Send email and SMS through this resource only.
resource communicationOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, identity.id, roles.communicationAndEmailServiceOwner)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.communicationAndEmailServiceOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Read this one secret, not the whole vault.
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enableNotificationHubs) {
  name: guid(keyVault::notificationHubsConnection.id, identity.id, roles.keyVaultSecretsUser)
  scope: keyVault::notificationHubsConnection
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- outputs (no secrets)

output functionAppName string = functionApp.name
output functionAppUrl string = 'https://${functionApp.properties.defaultHostName}'
output identityName string = identity.name
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output eventHubsNamespaceName string = eventHubsNamespace.name
output eventHubsFullyQualifiedNamespace string = eventHubsFullyQualifiedNamespace
output eventHubName string = eventHubName
output eventHubConsumerGroup string = eventHubConsumerGroupName
output deviceSasRuleName string = allowDeviceSasKeys ? eventHubsNamespace::hub::deviceSendRule.name : ''
output cosmosEndpoint string = cosmos.properties.documentEndpoint
output cosmosDatabase string = cosmosDatabaseName
output webPubSubEndpoint string = appSettings.WEBPUBSUB__endpoint
output webPubSubHub string = webPubSubHubName
output redisHostName string = redis.properties.hostName
output mysqlServerName string = mysql.name
output mysqlHost string = mysql.properties.fullyQualifiedDomainName
output mysqlReadHost string = mysqlReadReplica ? mysqlReplica!.properties.fullyQualifiedDomainName : ''
output mysqlDatabase string = mysqlDatabaseName
output mysqlAppUser string = identity.name
output notificationHubName string = enableNotificationHubs ? notificationHubName : ''
output keyVaultName string = keyVault.name
output communicationEndpoint string = appSettings.COMMUNICATION__endpoint
output emailSenderAddress string = appSettings.EMAIL_SENDER_ADDRESS
output authIssuer string = appSettings.AUTH_ISSUER
output authAudience string = authApiAppId
output operationsWorkbookName string = operations.outputs.workbookName
