/**
 * The infrastructure against the code, through the real Bicep CLI (obtained by
 * `.ci/bicep.sh`, which fails, and so fails these tests, when it cannot get one). The
 * template is compiled, and `bicep snapshot` evaluates it for two parameter sets into the
 * resources ARM would deploy, with everything known before deployment filled in. Then:
 * every setting the config module reads in Azure mode is set and every app setting the
 * template sets is read; every data-plane role the code needs is assigned, narrowly, and
 * no other; the Cosmos containers are the ones `telemetryContainers` describes; and no
 * output, parameter default or app setting holds a secret. The operations workbook and the
 * operator alert rules query only the metrics of the contract with the observability part,
 * with their thresholds taken from the parameters.
 */
import { execFile as execFileCallback, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, settingNames } from '../../lib/config.js';
import { telemetryContainers } from '../../lib/cosmos/client.js';
import { cosmosSettingsFrom } from '../../lib/cosmos/settings.js';
import { communicationConnection } from '../../lib/fanout/communication.js';
import { mysqlTarget } from '../../lib/mysql/pool.js';
import { metricNames } from '../../lib/observability/instruments.js';
import { deployedSamplingRatio } from '../../dev/tracing.js';

const execFile = promisify(execFileCallback);
const root = fileURLToPath(new URL('../../', import.meta.url));
const subscriptionId = '00000000-0000-0000-0000-0000000000aa';
const tenantId = '00000000-0000-0000-0000-0000000000bb';
const apiAppId = '00000000-0000-0000-0000-0000000000cc';
const devicePrincipal = '00000000-0000-0000-0000-0000000000dd';

interface Resource {
  id: string;
  type: string;
  name: string;
  identity?: { type?: string; userAssignedIdentities?: Record<string, unknown> };
  tags?: Record<string, string>;
  sku?: Record<string, unknown>;
  properties?: Record<string, unknown>;
}
interface Snapshot {
  predictedResources: Resource[];
  outputs: Record<string, unknown>;
  diagnostics: unknown[];
}

/** Parameters of the two evaluated environments: the defaults, and everything switched on. */
const scenarios = {
  minimal: {},
  full: {
    enableNotificationHubs: true,
    allowDeviceSasKeys: true,
    devicePrincipalId: `'${devicePrincipal}'`,
    cosmosCapacityMode: `'autoscale'`,
    cosmosSecondaryLocation: `'norwayeast'`,
    mysqlSkuName: `'Standard_D2ds_v4'`,
    mysqlSkuTier: `'GeneralPurpose'`,
    mysqlHighAvailability: `'ZoneRedundant'`,
    mysqlBackupRetentionDays: 35,
    mysqlGeoRedundantBackup: true,
    mysqlClientIpAddress: `'203.0.113.7'`,
    mysqlReadReplica: true,
    smsFromNumber: `'+14255550123'`,
    maximumInstanceCount: 100,
    instanceMemoryMB: 4096,
    eventHubsThroughputUnits: 4,
    eventHubsPartitionCount: 16,
    operatorEmails: `'ops@example.com, oncall@example.com '`,
    alertIngestLagMinutes: 10,
    alertOldestPendingDeliveryMinutes: 3,
    alertDeadLetterPercent: 7,
    alertApiServerErrorPercent: 2,
    alertFunctionFailures: 4,
  },
} as const;
type Scenario = keyof typeof scenarios;

let cli = '';
let work = '';
let compiled = '';
const snapshots = {} as Record<Scenario, Snapshot>;

beforeAll(async () => {
  // Prints the CLI's path on stdout; fails (and so fails this file) when there is none.
  cli = execFileSync('bash', [join(root, '.ci/bicep.sh'), '--path'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .at(-1) as string;
  work = mkdtempSync(join(tmpdir(), 'sis-bicep-'));
  const build = await execFile(cli, [
    'build',
    join(root, 'bicep/main.bicep'),
    '--outfile',
    join(work, 'main.json'),
  ]);
  expect(`${build.stdout}${build.stderr}`).toBe('');
  compiled = readFileSync(join(work, 'main.json'), 'utf8');
  await Promise.all(
    (Object.keys(scenarios) as Scenario[]).map(async (scenario) => {
      const file = join(work, `${scenario}.bicepparam`);
      const params: Record<string, string | number | boolean> = {
        environmentName: `'ci-${scenario}'`,
        location: `'swedencentral'`,
        authApiAppId: `'${apiAppId}'`,
        mysqlAdminPrincipalId: `'00000000-0000-0000-0000-0000000000ee'`,
        mysqlAdminLogin: `'dba@example.com'`,
        ...scenarios[scenario],
      };
      writeFileSync(
        file,
        [
          `using '${relative(work, join(root, 'bicep/main.bicep'))}'`,
          ...Object.entries(params).map(([name, value]) => `param ${name} = ${String(value)}`),
        ].join('\n'),
      );
      await execFile(cli, [
        'snapshot',
        file,
        '--subscription-id',
        subscriptionId,
        '--tenant-id',
        tenantId,
        '--location',
        'swedencentral',
        '--deployment-name',
        'sis',
      ]);
      snapshots[scenario] = JSON.parse(
        readFileSync(join(work, `${scenario}.snapshot.json`), 'utf8'),
      ) as Snapshot;
    }),
  );
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function resources(scenario: Scenario, type: string): Resource[] {
  return snapshots[scenario].predictedResources.filter((r) => r.type === type);
}

function one(scenario: Scenario, type: string): Resource {
  const found = resources(scenario, type);
  expect(found, type).toHaveLength(1);
  return found[0] as Resource;
}

function appSettings(scenario: Scenario): Record<string, string> {
  return one(scenario, 'Microsoft.Web/sites/config').properties as Record<string, string>;
}

/** The resource id of the identity the function app runs as. */
function appIdentityId(scenario: Scenario): string {
  const identities = Object.keys(
    one(scenario, 'Microsoft.Web/sites').identity?.userAssignedIdentities ?? {},
  );
  expect(identities).toHaveLength(1);
  return identities[0] as string;
}

/** An ARM expression reading `property` of the resource `id`. */
const readsProperty = (id: string, property: string) =>
  new RegExp(
    `reference\\('${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}', '[^']+'\\)\\.${property}\\b`,
  );

/** Settings only a local stand-in uses; Azure must not set them. */
const localOnly = [
  'MYSQL_URL',
  'MYSQL_READ_URL',
  'MYSQL_TLS',
  'MYSQL_PORT',
  'COSMOS_KEY',
  'COSMOS_CA_CERT_FILE',
  'EventHubConnection',
  'WEBPUBSUB_KEY',
  'COMMUNICATION_CONNECTION',
  'NOTIFICATION_HUBS_CA_CERT_FILE',
  'REDIS_URL',
  'WEBHOOK_SECRET_KEY_FILE',
  'WEBHOOK_ALLOW_LOOPBACK_HTTP',
];
/** Tunables whose code defaults suit Azure; the template may leave them out. */
const tunables = [
  'AUTH_TRUST_PLATFORM_PRINCIPAL',
  'WEBPUBSUB_TOKEN_MINUTES',
  'EQUIPMENT_STATUS_INTERVAL_SECONDS',
  'TELEMETRY_ALLOWED_LATENESS_SECONDS',
  'TELEMETRY_IDLE_GRACE_SECONDS',
  'SEVERITY_RULES',
  'ALERT_ESCALATION_POLICY',
  'ALERT_CLEAR_WINDOWS',
  'ALERT_FLAP_MINUTES',
  'OFFLINE_TIMEOUT_MINUTES',
  'MYSQL_CONNECT_TIMEOUT_MS',
  'MYSQL_ACQUIRE_TIMEOUT_MS',
  'MYSQL_QUERY_TIMEOUT_MS',
  'COSMOS_REQUEST_TIMEOUT_MS',
  'COSMOS_ENDPOINT_DISCOVERY',
  'DASHBOARD_DIR',
  'REDIS_KEY_PREFIX',
  'REDIS_TIMEOUT_MS',
  'RATE_LIMITS',
  'WEBHOOK_DISABLE_AFTER_FAILURES',
  'WEBHOOK_TIMEOUT_MS',
  'WEBHOOK_MAX_RESPONSE_BYTES',
  'SMS_SEVERITIES',
];
/** Settings only present when push is deployed. */
const pushSettings = ['NOTIFICATION_HUBS_CONNECTION', 'NOTIFICATION_HUB_NAME'];
/** Settings the Functions host reads itself (not the app's config module). */
const hostSetting = /^(AzureWebJobsStorage__|APPLICATIONINSIGHTS_|FUNCTIONS_)/;

/** Plausible deployed values for settings that ARM fills in at deployment. */
function deployedValue(name: string, value: string): string {
  if (!value.startsWith('[')) return value;
  if (name.endsWith('__clientId')) return '00000000-0000-4000-8000-000000000001';
  const samples: Record<string, string> = {
    MYSQL_HOST: 'mysql-x.mysql.database.azure.com',
    MYSQL_READ_HOST: 'mysql-x-replica.mysql.database.azure.com',
    COSMOS__accountEndpoint: 'https://cosmos-x.documents.azure.com:443/',
    WEBPUBSUB__endpoint: 'https://wps-x.webpubsub.azure.com',
    REDIS__hostName: 'redis-x.swedencentral.redis.azure.net',
    REDIS_PORT: '10000',
    EventHubConnection__fullyQualifiedNamespace: 'evhns-x.servicebus.windows.net',
    AUTH_ISSUER: `https://login.microsoftonline.com/${tenantId}/v2.0`,
    AUTH_JWKS_URI: `https://login.microsoftonline.com/${tenantId}/discovery/v2.0/keys`,
    WEBPUBSUB_EVENTS_ISSUER: `https://login.microsoftonline.com/${tenantId}/v2.0`,
    WEBPUBSUB_EVENTS_JWKS_URI: `https://login.microsoftonline.com/${tenantId}/discovery/v2.0/keys`,
    WEBPUBSUB_EVENTS_PRINCIPAL_ID: '00000000-0000-4000-8000-000000000003',
    NOTIFICATION_HUBS_CONNECTION: 'Endpoint=sb://resolved-by-the-platform/',
    WEBHOOK_SECRET_KEY_ID: 'https://kv-x.vault.azure.net/keys/webhook-secrets',
    COMMUNICATION__endpoint: 'https://acs-x.europe.communication.azure.com',
    EMAIL_SENDER_ADDRESS: 'DoNotReply@00000000-0000-4000-8000-000000000002.azurecomm.net',
    APP_PUBLIC_URL: 'https://func-x.azurewebsites.net',
  };
  const sample = samples[name];
  if (sample === undefined) throw new Error(`no sample for ${name} = ${value}`);
  return sample;
}

describe.each(Object.keys(scenarios) as Scenario[])('app settings (%s)', (scenario) => {
  it('sets every setting the code reads in Azure mode, and only settings something reads', () => {
    const settings = appSettings(scenario);
    const names = Object.keys(settings);
    const read = new Set<string>(settingNames);
    for (const name of names) {
      expect(read.has(name) || hostSetting.test(name), `${name} is read by nothing`).toBe(true);
    }
    for (const name of settingNames) {
      if (localOnly.includes(name)) {
        expect(names, `${name} is local only`).not.toContain(name);
      } else if (pushSettings.includes(name)) {
        if (scenario === 'full') expect(names).toContain(name);
        else expect(names).not.toContain(name);
      } else if (!tunables.includes(name)) {
        expect(names, `${name} is not set`).toContain(name);
      }
    }
    // The host's own storage and monitoring settings, identity-based.
    expect(names).toEqual(
      expect.arrayContaining([
        'AzureWebJobsStorage__blobServiceUri',
        'AzureWebJobsStorage__credential',
        'AzureWebJobsStorage__clientId',
        'APPLICATIONINSIGHTS_CONNECTION_STRING',
        'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
      ]),
    );
  });

  it('connects to everything as the app identity, and the config module agrees', () => {
    const settings = appSettings(scenario);
    const identity = appIdentityId(scenario);
    for (const [name, value] of Object.entries(settings)) {
      if (name.endsWith('__credential')) expect(value, name).toBe('managedidentity');
      if (name.endsWith('__clientId'))
        expect(value, name).toMatch(readsProperty(identity, 'clientId'));
    }
    for (const prefix of [
      'AzureWebJobsStorage',
      'MYSQL',
      'COSMOS',
      'EventHubConnection',
      'WEBPUBSUB',
      'REDIS',
      'COMMUNICATION',
    ]) {
      expect(settings[`${prefix}__credential`], prefix).toBe('managedidentity');
    }
    expect(settings['APPLICATIONINSIGHTS_AUTHENTICATION_STRING']).toMatch(
      /^\[format\('ClientId=\{0\};Authorization=AAD', reference\('[^']+userAssignedIdentities\/[^']+', '[^']+'\)\.clientId\)\]$/,
    );
    expect(settings['MYSQL_USER']).toBe(identity.split('/').at(-1));
    expect(settings['MYSQL_HOST']).toMatch(
      /Microsoft\.DBforMySQL\/flexibleServers\/[^']+', '[^']+'\)\.fullyQualifiedDomainName\]$/,
    );
    expect(settings['COSMOS__accountEndpoint']).toMatch(
      /databaseAccounts\/[^']+', '[^']+'\)\.documentEndpoint\]$/,
    );
    expect(settings['AUTH_AUDIENCE']).toBe(apiAppId);
    expect(settings['AUTH_ISSUER']).toContain('environment().authentication.loginEndpoint');
    expect(settings['AUTH_ISSUER']).toContain(`'${tenantId}'`);

    const env = Object.fromEntries(
      Object.entries(settings)
        .filter(([name]) => !hostSetting.test(name))
        .map(([name, value]) => [name, deployedValue(name, value)]),
    );
    const config = loadConfig(env);
    expect(mysqlTarget(config)).toMatchObject({ mode: 'entra', database: 'sis' });
    expect(cosmosSettingsFrom(config)).toMatchObject({ mode: 'azure' });
    expect(config.EventHubConnection).toBeUndefined();
    expect(config.WEBPUBSUB_KEY).toBeUndefined();
    expect(config.EVENTHUB_NAME).toBe('telemetry');
    expect(config.EVENTHUB_CONSUMER_GROUP).toBe('sis-functions');
    expect(config.COSMOS_DATABASE).toBe('sis');
    expect(config.WEBPUBSUB_HUB).toBe('sis');
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.REDIS_PORT).toBe(10_000);
    expect(communicationConnection(config)).toMatchObject({ kind: 'identity' });
    expect(config.SMS_FROM_NUMBER).toBe(scenario === 'full' ? '+14255550123' : undefined);
  });

  it('sends email and SMS through Communication Services with an Azure-managed domain, keys off', () => {
    const settings = appSettings(scenario);
    const communication = one(scenario, 'Microsoft.Communication/communicationServices');
    const domain = one(scenario, 'Microsoft.Communication/emailServices/domains');
    expect(one(scenario, 'Microsoft.Communication/emailServices').properties).toEqual({
      dataLocation: 'Europe',
    });
    expect(domain.properties).toMatchObject({ domainManagement: 'AzureManaged' });
    expect(communication.properties).toEqual({
      dataLocation: 'Europe',
      disableLocalAuth: true,
      linkedDomains: [domain.id],
    });
    expect(settings['COMMUNICATION__endpoint']).toMatch(/^\[format\('https:\/\/\{0\}', /);
    expect(settings['COMMUNICATION__endpoint']).toMatch(
      readsProperty(communication.id, 'hostName'),
    );
    expect(settings['EMAIL_SENDER_ADDRESS']).toMatch(/^\[format\('DoNotReply@\{0\}', /);
    expect(settings['EMAIL_SENDER_ADDRESS']).toMatch(
      readsProperty(domain.id, 'mailFromSenderDomain'),
    );
    expect(settings['APP_PUBLIC_URL']).toMatch(
      readsProperty(one(scenario, 'Microsoft.Web/sites').id, 'defaultHostName'),
    );
  });

  it('deploys Azure Managed Redis TLS only, without keys, open to the app identity alone', () => {
    const settings = appSettings(scenario);
    const cache = one(scenario, 'Microsoft.Cache/redisEnterprise');
    const database = one(scenario, 'Microsoft.Cache/redisEnterprise/databases');
    expect(settings['REDIS__hostName']).toMatch(readsProperty(cache.id, 'hostName'));
    expect(settings['REDIS_PORT']).toBe(String(database.properties?.['port']));
    expect(cache.properties).toMatchObject({ minimumTlsVersion: '1.2' });
    expect(database.properties).toMatchObject({
      clientProtocol: 'Encrypted',
      accessKeysAuthentication: 'Disabled',
      // A single endpoint: the app's client is not cluster-aware.
      clusteringPolicy: 'EnterpriseCluster',
    });
    const assignments = resources(
      scenario,
      'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments',
    );
    expect(assignments.map((a) => a.properties)).toEqual([
      {
        accessPolicyName: 'default',
        user: { objectId: `[reference('${appIdentityId(scenario)}', '2024-11-30').principalId]` },
      },
    ]);
  });

  it('lets Web PubSub call the location event handler with its managed identity', () => {
    const settings = appSettings(scenario);
    const webPubSub = one(scenario, 'Microsoft.SignalRService/webPubSub');
    expect(webPubSub.identity?.type).toBe('SystemAssigned');
    const handlers = one(scenario, 'Microsoft.SignalRService/webPubSub/hubs').properties?.[
      'eventHandlers'
    ] as Record<string, unknown>[];
    const functionApp = resources(scenario, 'Microsoft.Web/sites')[0];
    expect(handlers).toHaveLength(1);
    expect(handlers[0]).toMatchObject({
      userEventPattern: 'location',
      systemEvents: [],
      auth: { type: 'ManagedIdentity', managedIdentity: { resource: apiAppId } },
    });
    expect(handlers[0]?.['urlTemplate']).toMatch(
      readsProperty(functionApp?.id ?? 'no function app', 'defaultHostName'),
    );
    expect(handlers[0]?.['urlTemplate']).toMatch(
      /^\[format\('https:\/\/\{0\}\/api\/webpubsub\/events', /,
    );
    // The app checks the token for that audience, from that tenant, of that identity.
    expect(settings['WEBPUBSUB_EVENTS_AUDIENCE']).toBe(apiAppId);
    expect(settings['WEBPUBSUB_EVENTS_ISSUER']).toBe(settings['AUTH_ISSUER']);
    expect(settings['WEBPUBSUB_EVENTS_JWKS_URI']).toBe(settings['AUTH_JWKS_URI']);
    expect(settings['WEBPUBSUB_EVENTS_PRINCIPAL_ID']).toContain(`reference('${webPubSub.id}'`);
    expect(settings['WEBPUBSUB_EVENTS_PRINCIPAL_ID']).toMatch(/\.identity\.principalId\]$/);
  });

  it('names the resources the settings point at', () => {
    const settings = appSettings(scenario);
    const hub = one(scenario, 'Microsoft.EventHub/namespaces/eventhubs');
    expect(hub.name.split('/').at(-1)).toBe(settings['EVENTHUB_NAME']);
    expect(
      one(scenario, 'Microsoft.EventHub/namespaces/eventhubs/consumergroups')
        .name.split('/')
        .at(-1),
    ).toBe(settings['EVENTHUB_CONSUMER_GROUP']);
    expect(
      one(scenario, 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases').name.split('/').at(-1),
    ).toBe(settings['COSMOS_DATABASE']);
    expect(one(scenario, 'Microsoft.SignalRService/webPubSub/hubs').name.split('/').at(-1)).toBe(
      settings['WEBPUBSUB_HUB'],
    );
    expect(
      one(scenario, 'Microsoft.DBforMySQL/flexibleServers/databases').name.split('/').at(-1),
    ).toBe(settings['MYSQL_DATABASE']);
    const namespace = one(scenario, 'Microsoft.EventHub/namespaces');
    expect(settings['EventHubConnection__fullyQualifiedNamespace']).toMatch(
      readsProperty(namespace.id, 'serviceBusEndpoint'),
    );
    if (scenario === 'full') {
      const secret = one(scenario, 'Microsoft.KeyVault/vaults/secrets');
      expect(settings['NOTIFICATION_HUBS_CONNECTION']).toMatch(
        /^\[format\('@Microsoft\.KeyVault\(SecretUri=\{0\}\)', /,
      );
      expect(settings['NOTIFICATION_HUBS_CONNECTION']).toMatch(
        readsProperty(secret.id, 'secretUri'),
      );
      expect(one(scenario, 'Microsoft.Web/sites').properties?.['keyVaultReferenceIdentity']).toBe(
        appIdentityId(scenario),
      );
      expect(
        one(scenario, 'Microsoft.NotificationHubs/namespaces/notificationHubs')
          .name.split('/')
          .at(-1),
      ).toBe(settings['NOTIFICATION_HUB_NAME']);
    } else {
      expect(resources(scenario, 'Microsoft.NotificationHubs/namespaces')).toHaveLength(0);
      expect(resources(scenario, 'Microsoft.KeyVault/vaults/secrets')).toHaveLength(0);
    }
  });

  it('keeps webhook secrets under a Key Vault key, RBAC only, purge-protected', () => {
    const settings = appSettings(scenario);
    const vault = one(scenario, 'Microsoft.KeyVault/vaults');
    const key = one(scenario, 'Microsoft.KeyVault/vaults/keys');
    expect(vault.properties).toMatchObject({
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      enablePurgeProtection: true,
    });
    expect(key.properties).toMatchObject({
      kty: 'RSA',
      keyOps: ['wrapKey', 'unwrapKey'],
      attributes: { exportable: false },
    });
    expect(settings['WEBHOOK_SECRET_KEY_ID']).toMatch(readsProperty(key.id, 'keyUri'));
    expect(settings['WEBHOOK_SECRET_KEY__clientId']).toMatch(
      readsProperty(appIdentityId(scenario), 'clientId'),
    );
  });
});

const role = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde',
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975',
  webPubSubServiceOwner: '12cf5a90-567b-43ae-8102-96cf46c7d9b4',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultCryptoServiceEncryptionUser: 'e147488a-f6f5-4113-8e2d-b22465e65bf6',
  communicationAndEmailServiceOwner: '09976791-48a7-449e-bb21-39d1a415f350',
};

describe.each(Object.keys(scenarios) as Scenario[])('role assignments (%s)', (scenario) => {
  it('grants exactly the data-plane roles the code uses, each on the narrowest scope', () => {
    const identity = appIdentityId(scenario);
    const scopeOf = (type: string) => one(scenario, type).id;
    const assignments = resources(scenario, 'Microsoft.Authorization/roleAssignments').map((r) => {
      const properties = r.properties as Record<string, string>;
      return {
        name: r.name,
        role: properties['roleDefinitionId']?.split('/').at(-1),
        scope: r.id.slice(0, r.id.indexOf('/providers/Microsoft.Authorization/roleAssignments/')),
        principal:
          properties['principalId'] === `[reference('${identity}', '2024-11-30').principalId]`
            ? 'app'
            : properties['principalId'],
      };
    });
    const expected = [
      {
        role: role.storageBlobDataOwner,
        scope: scopeOf('Microsoft.Storage/storageAccounts'),
        principal: 'app',
      },
      {
        role: role.storageTableDataContributor,
        scope: scopeOf('Microsoft.Storage/storageAccounts'),
        principal: 'app',
      },
      {
        role: role.monitoringMetricsPublisher,
        scope: scopeOf('Microsoft.Insights/components'),
        principal: 'app',
      },
      {
        role: role.eventHubsDataReceiver,
        scope: scopeOf('Microsoft.EventHub/namespaces/eventhubs'),
        principal: 'app',
      },
      {
        role: role.webPubSubServiceOwner,
        scope: scopeOf('Microsoft.SignalRService/webPubSub'),
        principal: 'app',
      },
      {
        role: role.keyVaultCryptoServiceEncryptionUser,
        scope: scopeOf('Microsoft.KeyVault/vaults/keys'),
        principal: 'app',
      },
      {
        role: role.communicationAndEmailServiceOwner,
        scope: scopeOf('Microsoft.Communication/communicationServices'),
        principal: 'app',
      },
    ];
    if (scenario === 'full') {
      expected.push(
        {
          role: role.keyVaultSecretsUser,
          scope: scopeOf('Microsoft.KeyVault/vaults/secrets'),
          principal: 'app',
        },
        {
          role: role.eventHubsDataSender,
          scope: scopeOf('Microsoft.EventHub/namespaces/eventhubs'),
          principal: devicePrincipal,
        },
      );
    }
    const sortKey = (a: { role?: string | undefined; principal?: string | undefined }) =>
      `${a.role}${a.principal}`;
    expect(
      assignments
        .map(({ name: _, ...rest }) => rest)
        .sort((a, b) => sortKey(a).localeCompare(sortKey(b))),
    ).toEqual(expected.sort((a, b) => sortKey(a).localeCompare(sortKey(b))));
    // guid() names: deterministic GUIDs, one per assignment.
    const names = assignments.map((a) => a.name);
    for (const name of names)
      expect(name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(names).size).toBe(names.length);
  });

  it('gives the app Cosmos DB Built-in Data Contributor on its database only', () => {
    const identity = appIdentityId(scenario);
    const account = one(scenario, 'Microsoft.DocumentDB/databaseAccounts');
    const assignment = one(scenario, 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments');
    expect(assignment.properties).toEqual({
      roleDefinitionId: `${account.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002`,
      principalId: `[reference('${identity}', '2024-11-30').principalId]`,
      scope: `${account.id}/dbs/sis`,
    });
    expect(assignment.name.split('/').at(-1)).toMatch(/^[0-9a-f]{8}-[0-9a-f-]{27}$/);
  });
});

describe('Cosmos DB', () => {
  it('declares exactly the containers of telemetryContainers', () => {
    for (const scenario of Object.keys(scenarios) as Scenario[]) {
      const declared = resources(
        scenario,
        'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers',
      ).map((r) => (r.properties as { resource: Record<string, unknown> }).resource);
      const normalised = declared.map((c) => {
        const partitionKey = c['partitionKey'] as {
          paths: string[];
          kind: string;
          version: number;
        };
        const indexing = c['indexingPolicy'] as {
          compositeIndexes?: unknown[];
          indexingMode: string;
        };
        expect(partitionKey.kind).toBe('Hash');
        expect(partitionKey.version).toBe(2);
        expect(indexing.indexingMode).toBe('consistent');
        return {
          id: c['id'],
          partitionKeyPath: partitionKey.paths.join(','),
          defaultTtl: c['defaultTtl'],
          compositeIndexes: indexing.compositeIndexes,
        };
      });
      const wanted = telemetryContainers.map((spec) => ({
        id: spec.id,
        partitionKeyPath: spec.partitionKeyPath,
        defaultTtl: 'defaultTtl' in spec ? spec.defaultTtl : undefined,
        compositeIndexes: 'compositeIndexes' in spec ? spec.compositeIndexes : undefined,
      }));
      const byId = (a: { id: unknown }, b: { id: unknown }) =>
        String(a.id).localeCompare(String(b.id));
      expect(normalised.sort(byId)).toEqual(wanted.sort(byId));
    }
  });

  it('is serverless or autoscale by parameter, with local auth off and a DR region when asked', () => {
    const minimal = one('minimal', 'Microsoft.DocumentDB/databaseAccounts').properties ?? {};
    expect(minimal['capabilities']).toEqual([{ name: 'EnableServerless' }]);
    expect(
      one('minimal', 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases').properties?.['options'],
    ).toEqual({});
    const full = one('full', 'Microsoft.DocumentDB/databaseAccounts').properties ?? {};
    expect(full['capabilities']).toEqual([]);
    expect(full['locations']).toHaveLength(2);
    expect(full['enableAutomaticFailover']).toBe(true);
    expect(
      one('full', 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases').properties?.['options'],
    ).toEqual({
      autoscaleSettings: { maxThroughput: 1000 },
    });
    for (const account of [minimal, full]) {
      expect(account['disableLocalAuth']).toBe(true);
      expect(account['disableKeyBasedMetadataWriteAccess']).toBe(true);
    }
  });
});

describe('platform', () => {
  it('runs the app on Flex Consumption, Node 22, deploying through the identity', () => {
    for (const scenario of Object.keys(scenarios) as Scenario[]) {
      const plan = one(scenario, 'Microsoft.Web/serverfarms');
      expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
      expect(plan.properties?.['reserved']).toBe(true);
      const site = one(scenario, 'Microsoft.Web/sites');
      expect(site.tags).toMatchObject({
        'azd-service-name': 'api',
        'azd-env-name': `ci-${scenario}`,
      });
      const app = site.properties?.['functionAppConfig'] as Record<string, Record<string, unknown>>;
      expect(app['runtime']).toEqual({ name: 'node', version: '22' });
      expect(app['deployment']?.['storage']).toMatchObject({
        type: 'blobContainer',
        authentication: {
          type: 'UserAssignedIdentity',
          userAssignedIdentityResourceId: appIdentityId(scenario),
        },
      });
    }
    expect(
      (
        one('full', 'Microsoft.Web/sites').properties?.['functionAppConfig'] as Record<
          string,
          unknown
        >
      )['scaleAndConcurrency'],
    ).toEqual({ instanceMemoryMB: 4096, maximumInstanceCount: 100 });
  });

  it('turns shared keys and local auth off everywhere but the opt-in device SAS rule', () => {
    for (const scenario of Object.keys(scenarios) as Scenario[]) {
      expect(
        one(scenario, 'Microsoft.Storage/storageAccounts').properties?.['allowSharedKeyAccess'],
      ).toBe(false);
      expect(one(scenario, 'Microsoft.Insights/components').properties?.['DisableLocalAuth']).toBe(
        true,
      );
      expect(
        one(scenario, 'Microsoft.SignalRService/webPubSub').properties?.['disableLocalAuth'],
      ).toBe(true);
    }
    expect(one('minimal', 'Microsoft.EventHub/namespaces').properties?.['disableLocalAuth']).toBe(
      true,
    );
    expect(
      resources('minimal', 'Microsoft.EventHub/namespaces/eventhubs/authorizationRules'),
    ).toHaveLength(0);
    expect(one('full', 'Microsoft.EventHub/namespaces').properties?.['disableLocalAuth']).toBe(
      false,
    );
    const rule = one('full', 'Microsoft.EventHub/namespaces/eventhubs/authorizationRules');
    expect(rule.properties).toEqual({ rights: ['Send'] });
    expect(one('full', 'Microsoft.EventHub/namespaces').sku).toMatchObject({
      name: 'Standard',
      capacity: 4,
    });
    expect(one('full', 'Microsoft.EventHub/namespaces/eventhubs').properties).toMatchObject({
      partitionCount: 16,
    });
  });

  it('makes MySQL Entra-only over TLS, with backups and high availability by parameter', () => {
    for (const scenario of Object.keys(scenarios) as Scenario[]) {
      const configurations = Object.fromEntries(
        resources(scenario, 'Microsoft.DBforMySQL/flexibleServers/configurations').map((r) => [
          r.name.split('/').at(-1),
          (r.properties as { value: string }).value,
        ]),
      );
      expect(configurations).toEqual({ require_secure_transport: 'ON', aad_auth_only: 'ON' });
      expect(
        one(scenario, 'Microsoft.DBforMySQL/flexibleServers/administrators').properties,
      ).toMatchObject({
        administratorType: 'ActiveDirectory',
        login: 'dba@example.com',
      });
    }
    expect(one('minimal', 'Microsoft.DBforMySQL/flexibleServers').properties).toMatchObject({
      backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' },
      highAvailability: { mode: 'Disabled' },
    });
    const [source, replica, ...more] = resources('full', 'Microsoft.DBforMySQL/flexibleServers');
    expect(more).toEqual([]);
    expect(source?.properties).toMatchObject({
      backup: { backupRetentionDays: 35, geoRedundantBackup: 'Enabled' },
      highAvailability: { mode: 'ZoneRedundant' },
    });
    expect(resources('full', 'Microsoft.DBforMySQL/flexibleServers/firewallRules')).toHaveLength(2);
    // The read replica: replicates the source, and the app reads from it by MYSQL_READ_HOST.
    expect(replica?.name).toBe(`${String(source?.name)}-replica`);
    expect(replica?.properties).toEqual({
      createMode: 'Replica',
      sourceServerResourceId: expect.stringMatching(
        new RegExp(`Microsoft\\.DBforMySQL/flexibleServers/${String(source?.name)}$`),
      ),
    });
    expect(appSettings('full')['MYSQL_READ_HOST']).toMatch(
      /Microsoft\.DBforMySQL\/flexibleServers\/[^']+-replica', '[^']+'\)\.fullyQualifiedDomainName/,
    );
    expect(appSettings('minimal')['MYSQL_READ_HOST']).toBe('');
  });
});

describe('tracing', () => {
  it('keeps by default the share of traces the instrumented benchmarks sample', () => {
    // bench/servers/apiHost.ts and bench/metrics/ingestCore.ts measure this ratio.
    expect(appSettings('minimal')['TRACES_SAMPLING_RATIO']).toBe(String(deployedSamplingRatio));
  });
});

describe('secrets', () => {
  const secretPattern =
    /listKeys|listConnectionStrings|listCredentials|AccountKey=|SharedAccessKey=|Password=/i;

  it('no output, parameter default or app setting holds a secret', () => {
    const template = JSON.parse(compiled) as Record<string, unknown>;
    const deployment = (template['resources'] as Record<string, unknown>[]).find(
      (r) => r['type'] === 'Microsoft.Resources/deployments',
    );
    const nested = (deployment?.['properties'] as Record<string, unknown> | undefined)?.[
      'template'
    ] as Record<string, unknown>;
    expect(nested, 'the resources module is inlined').toBeDefined();
    for (const level of [template, nested]) {
      const outputs = JSON.stringify(level['outputs']);
      expect(outputs).not.toMatch(secretPattern);
      for (const [name, parameter] of Object.entries(
        level['parameters'] as Record<string, Record<string, unknown>>,
      )) {
        const fallback = parameter['defaultValue'];
        if (fallback === undefined) continue;
        expect(JSON.stringify(fallback), name).not.toMatch(secretPattern);
        if (parameter['type'] === 'securestring') expect(fallback, name).toBe('[newGuid()]');
      }
    }
    for (const scenario of Object.keys(scenarios) as Scenario[]) {
      expect(JSON.stringify(snapshots[scenario].outputs)).not.toMatch(secretPattern);
      expect(JSON.stringify(appSettings(scenario))).not.toMatch(secretPattern);
    }
  });

  it('reads a key only into the Key Vault secret of the push connection string', () => {
    for (const scenario of Object.keys(scenarios) as Scenario[]) {
      const holders = snapshots[scenario].predictedResources.filter((r) =>
        /listKeys\(/i.test(JSON.stringify(r)),
      );
      if (scenario === 'minimal') {
        expect(holders).toHaveLength(0);
        continue;
      }
      expect(holders.map((r) => r.type)).toEqual(['Microsoft.KeyVault/vaults/secrets']);
      const rule = one(
        scenario,
        'Microsoft.NotificationHubs/namespaces/notificationHubs/authorizationRules',
      );
      expect(rule.properties).toEqual({ rights: ['Send'] });
      expect(holders[0]?.properties?.['value']).toBe(
        `[listKeys('${rule.id}', '2023-09-01').primaryConnectionString]`,
      );
      expect(
        one(scenario, 'Microsoft.KeyVault/vaults').properties?.['enableRbacAuthorization'],
      ).toBe(true);
    }
  });
});

/**
 * The OpenTelemetry instruments the app records (issue #17's contract between the
 * instruments and the workbook), each with the attributes it carries; the Azure Monitor
 * exporter turns them into customMetrics rows with the attributes in customDimensions.
 */
const contractMetrics: Record<string, readonly string[]> = {
  'sis.ingest.events': ['partition'],
  'sis.ingest.readings': ['partition'],
  'sis.ingest.dead_letters': ['reason'],
  'sis.ingest.batch.size': [],
  'sis.ingest.batch.duration': [],
  'sis.ingest.lag.events': ['partition'],
  'sis.ingest.lag.seconds': ['partition'],
  'sis.ingest.watermark.delay': ['partition'],
  'sis.ingest.windows_closed': [],
  'sis.ingest.aggregates_written': [],
  'sis.ingest.epochs_started': ['partition'],
  'sis.cosmos.request_charge': ['operation'],
  'sis.cosmos.duration': ['operation'],
  'sis.cosmos.throttled': ['operation'],
  'sis.alerts.changes': ['change', 'severity', 'metric'],
  'sis.deliveries': ['channel', 'outcome'],
  'sis.deliveries.oldest_pending_age': [],
  'sis.deliveries.latency': ['channel'],
  'sis.http.requests': ['route', 'method', 'status'],
  'sis.http.duration': ['route', 'method', 'status'],
  'sis.mysql.pool.in_use': [],
  'sis.mysql.pool.waiting': [],
  'sis.ratelimit.rejections': ['class'],
  'sis.auth.failures': ['reason'],
};
describe('the metric contract', () => {
  it('lists exactly the instruments the app records', () => {
    expect(Object.keys(contractMetrics).sort()).toEqual(Object.values(metricNames).sort());
  });
});

/** Application Insights tables the queries may read: the app's metrics, the host's telemetry. */
const telemetryTables = ['customMetrics', 'requests', 'exceptions', 'dependencies'];

/** Checks a KQL query names only contract metrics, their attributes and known tables. */
function expectContractQuery(query: string, label: string): string[] {
  const metrics = [...query.matchAll(/'(sis\.[a-z_.]+)'/g)].map((m) => m[1] as string);
  for (const metric of metrics) expect(Object.keys(contractMetrics), label).toContain(metric);
  const attributes = new Set(metrics.flatMap((metric) => contractMetrics[metric] ?? []));
  for (const [, key] of query.matchAll(/customDimensions\.([A-Za-z_]+)/g))
    expect([...attributes], `${label}: customDimensions.${String(key)}`).toContain(key);
  // The tabular source: the first word of the query, and of any subquery.
  const sources = [query, ...[...query.matchAll(/\(\s*\n\s*([A-Za-z]+)\s*\n/g)].map((m) => m[1])];
  for (const source of sources)
    expect(telemetryTables, label).toContain(String(source).trim().split(/\s/)[0]);
  // Structurally sound as far as can be checked without Azure: quotes and brackets pair up,
  // and every line after the first continues a pipeline or a bracketed subquery.
  expect((query.match(/'/g) ?? []).length % 2, `${label}: quotes`).toBe(0);
  let depth = 0;
  for (const char of query) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    expect(depth, `${label}: brackets`).toBeGreaterThanOrEqual(0);
  }
  expect(depth, `${label}: brackets`).toBe(0);
  return metrics;
}

interface WorkbookItem {
  type: number;
  name: string;
  content: {
    query?: string;
    title?: string;
    timeContextFromParameter?: string;
    resourceType?: string;
    parameters?: { name: string }[];
  };
}

describe.each(Object.keys(scenarios) as Scenario[])('operations (%s)', (scenario) => {
  const appInsightsId = () => one(scenario, 'Microsoft.Insights/components').id;

  it('deploys the "SIS operations" workbook over Application Insights, charting contract metrics', () => {
    const workbook = one(scenario, 'Microsoft.Insights/workbooks');
    expect(workbook.name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(workbook.properties).toMatchObject({
      displayName: 'SIS operations',
      category: 'workbook',
      sourceId: appInsightsId(),
    });
    const content = JSON.parse(String(workbook.properties?.['serializedData'])) as {
      version: string;
      items: WorkbookItem[];
      fallbackResourceIds: string[];
    };
    expect(content.version).toBe('Notebook/1.0');
    expect(content.fallbackResourceIds).toEqual([appInsightsId()]);
    const timeParameters = content.items
      .filter((item) => item.type === 9)
      .flatMap((item) => item.content.parameters ?? [])
      .map((parameter) => parameter.name);
    const queries = content.items.filter((item) => item.type === 3);
    const charted = new Set<string>();
    for (const item of queries) {
      expect(item.content.resourceType, item.name).toBe('microsoft.insights/components');
      expect(timeParameters, item.name).toContain(item.content.timeContextFromParameter);
      for (const metric of expectContractQuery(String(item.content.query), item.name))
        charted.add(metric);
    }
    // What the issue asks the workbook to show.
    expect([...charted]).toEqual(
      expect.arrayContaining([
        'sis.ingest.readings',
        'sis.ingest.lag.seconds',
        'sis.ingest.dead_letters',
        'sis.alerts.changes',
        'sis.deliveries.oldest_pending_age',
        'sis.deliveries',
        'sis.http.requests',
        'sis.http.duration',
        'sis.cosmos.request_charge',
      ]),
    );
    const hostQueries = queries.map((item) => String(item.content.query).split('\n')[0]);
    expect(hostQueries).toEqual(expect.arrayContaining(['requests', 'exceptions', 'dependencies']));
    expect(
      queries.some((item) => /percentile\(duration, 95\)/.test(String(item.content.query))),
    ).toBe(true);
  });

  it('emails the operators through one action group, only when addresses are given', () => {
    const groups = resources(scenario, 'Microsoft.Insights/actionGroups');
    if (scenario === 'minimal') {
      expect(groups).toHaveLength(0);
      return;
    }
    expect(groups).toHaveLength(1);
    expect(groups[0]?.properties).toMatchObject({
      enabled: true,
      emailReceivers: [
        { emailAddress: 'ops@example.com', useCommonAlertSchema: true },
        { emailAddress: 'oncall@example.com', useCommonAlertSchema: true },
      ],
    });
    expect(String(groups[0]?.properties?.['groupShortName']).length).toBeLessThanOrEqual(12);
  });

  it('raises the five operator alert rules over Application Insights, thresholds from parameters', () => {
    const thresholds =
      scenario === 'full'
        ? { lag: 10 * 60, backlog: 3 * 60, deadLetters: 7, serverErrors: 2, failures: 4 }
        : { lag: 5 * 60, backlog: 2 * 60, deadLetters: 5, serverErrors: 1, failures: 0 };
    const rules = Object.fromEntries(
      resources(scenario, 'Microsoft.Insights/scheduledQueryRules').map((r) => [
        r.name.replace(/^sis-/, '').replace(/-[a-z0-9]+$/, ''),
        r.properties as {
          scopes: string[];
          enabled: boolean;
          autoMitigate: boolean;
          evaluationFrequency: string;
          windowSize: string;
          severity: number;
          criteria: {
            allOf: {
              query: string;
              metricMeasureColumn: string;
              operator: string;
              threshold: number;
            }[];
          };
          actions: { actionGroups: string[] };
        },
      ]),
    );
    const expected = {
      'ingest-lag': { metric: 'sis.ingest.lag.seconds', threshold: thresholds.lag },
      'delivery-backlog': {
        metric: 'sis.deliveries.oldest_pending_age',
        threshold: thresholds.backlog,
      },
      'dead-letters': { metric: 'sis.ingest.dead_letters', threshold: thresholds.deadLetters },
      'api-server-errors': { metric: 'sis.http.requests', threshold: thresholds.serverErrors },
      'function-failures': { metric: undefined, threshold: thresholds.failures },
    };
    expect(Object.keys(rules).sort()).toEqual(Object.keys(expected).sort());
    const groupIds = resources(scenario, 'Microsoft.Insights/actionGroups').map((g) => g.id);
    for (const [name, { metric, threshold }] of Object.entries(expected)) {
      const rule = rules[name];
      expect(rule, name).toBeDefined();
      if (rule === undefined) continue;
      expect(rule.scopes, name).toEqual([appInsightsId()]);
      expect(rule, name).toMatchObject({ enabled: true, autoMitigate: true });
      expect(rule.evaluationFrequency, name).toBe('PT5M');
      expect(['PT5M', 'PT15M'], name).toContain(rule.windowSize);
      expect([1, 2], name).toContain(rule.severity);
      expect(rule.actions.actionGroups, name).toEqual(groupIds);
      expect(rule.criteria.allOf, name).toHaveLength(1);
      const [criterion] = rule.criteria.allOf;
      expect(criterion?.operator, name).toBe('GreaterThan');
      expect(criterion?.threshold, name).toBe(threshold);
      const query = String(criterion?.query);
      // The measured column is one the query computes.
      expect(query, name).toMatch(new RegExp(`\\b${String(criterion?.metricMeasureColumn)} =`));
      const metrics = expectContractQuery(query, name);
      if (metric === undefined) expect(query, name).toMatch(/^requests\n/);
      else expect(metrics, name).toContain(metric);
    }
    expect(rules['dead-letters']?.criteria.allOf[0]?.query).toContain("'sis.ingest.readings'");
  });
});
