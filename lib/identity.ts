/**
 * Entra ID credentials, loaded on first use. `@azure/identity` (with MSAL) is one of the
 * heaviest packages the app depends on and is only needed in Azure, the first time a token
 * is requested, so importing the app (a cold start) must not pay for it: the credential
 * returned here imports the package when `getToken` is first called.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

/**
 * A managed identity's credential: the user-assigned one with `clientId`, otherwise
 * `DefaultAzureCredential` (the system-assigned identity in Azure, a developer's sign-in
 * elsewhere).
 */
export function azureCredential(clientId?: string): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  return {
    getToken: async (
      scopes: string | string[],
      options?: GetTokenOptions,
    ): Promise<AccessToken | null> => {
      credential ??= import('@azure/identity').then((identity) =>
        clientId
          ? new identity.ManagedIdentityCredential({ clientId })
          : new identity.DefaultAzureCredential(),
      );
      return (await credential).getToken(scopes, options);
    },
  };
}
