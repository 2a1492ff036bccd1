/** How the app's Cosmos settings (the `cosmos` section) become client settings. */
import type { SectionConfig } from '../config.js';
import type { CosmosSettings } from './client.js';

/** Cosmos client settings from the `cosmos` section: managed identity in Azure, key locally. */
export function cosmosSettingsFrom(config: SectionConfig<'cosmos'>): CosmosSettings {
  const bounds = {
    requestTimeoutMs: config.COSMOS_REQUEST_TIMEOUT_MS,
    endpointDiscovery: config.COSMOS_ENDPOINT_DISCOVERY,
  };
  if (config.COSMOS_KEY) {
    return {
      mode: 'local',
      endpoint: config.COSMOS__accountEndpoint,
      key: config.COSMOS_KEY,
      caCertFile: config.COSMOS_CA_CERT_FILE,
      ...bounds,
    };
  }
  return {
    mode: 'azure',
    endpoint: config.COSMOS__accountEndpoint,
    managedIdentityClientId: config.COSMOS__clientId,
    ...bounds,
  };
}
