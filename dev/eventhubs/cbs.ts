/**
 * Claims-based security: `put-token` on the `$cbs` node. Both SDKs send the token as the body,
 * with `operation`, `type` and `name` (the audience) as application properties (@azure/core-amqp
 * `CbsClient.negotiateClaim`; Azure/azure-amqp, src/Cbs/AmqpCbsLink.cs `SendTokenAsync`). A SAS
 * token is verified against the configured keys; the claim it grants lasts until its expiry.
 */
import type { Connection, Message } from 'rhea';
import { covers, resourcePath } from './access.js';
import { stringProperty } from './amqp.js';
import { respond, type Reply } from './replies.js';
import { SasTokenError, effectiveRights, verifySasToken } from './sas.js';
import { connectionState, type StandInState } from './state.js';

const sasTokenType = 'servicebus.windows.net:sastoken';

/** Handles one request on `$cbs` and answers it. */
export function handleCbsRequest(
  state: StandInState,
  connection: Connection,
  request: Message,
): void {
  respond(state, connection, request, putToken(state, connection, request));
}

function putToken(state: StandInState, connection: Connection, request: Message): Reply {
  const props = request.application_properties;
  if (stringProperty(props, 'operation') !== 'put-token') {
    return { statusCode: 400, statusDescription: 'The $cbs node supports put-token only.' };
  }
  const audience = stringProperty(props, 'name');
  const type = stringProperty(props, 'type');
  const token: unknown = request.body;
  if (!audience || typeof token !== 'string') {
    return {
      statusCode: 400,
      statusDescription: 'put-token needs a name (audience) and a token body.',
    };
  }
  if (type !== sasTokenType) {
    // Entra ID tokens (`jwt`) cannot be checked here: nothing issues them for the stand-in.
    return {
      statusCode: 401,
      statusDescription: `The stand-in accepts '${sasTokenType}' tokens only, not '${type ?? ''}'.`,
    };
  }
  try {
    const { fields, key } = verifySasToken(token, state.keys);
    const path = resourcePath(audience);
    if (!covers(resourcePath(fields.resource), path)) {
      return {
        statusCode: 401,
        statusDescription: `InvalidAudience: The token audience '${fields.resource}' does not cover '${audience}'.`,
      };
    }
    const claims = connectionState(state, connection);
    claims.claims = claims.claims.filter((c) => c.path !== path);
    claims.claims.push({
      path,
      rights: effectiveRights(key.rights),
      expiresAt: fields.expiry * 1000,
    });
    return { statusCode: 202, statusDescription: 'Accepted' };
  } catch (error) {
    if (error instanceof SasTokenError) {
      return { statusCode: error.statusCode, statusDescription: error.message };
    }
    throw error;
  }
}
