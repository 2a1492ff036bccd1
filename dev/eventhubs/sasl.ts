/**
 * The SASL layer: no authentication happens here, as in the service. Identity comes from the
 * tokens a client later puts on `$cbs` (see cbs.ts); SASL only has to let each SDK through.
 *
 * - `@azure/event-hubs` (rhea) offers ANONYMOUS when its connection string names a key, and
 *   skips SASL with a `SharedAccessSignature=` connection string (no user name).
 * - `Azure.Messaging.EventHubs` (.NET, on Microsoft.Azure.Amqp) offers only `MSSBCBS`, the
 *   service's name for "anonymous now, claims over CBS later": it registers
 *   `new SaslAnonymousHandler("MSSBCBS")` (Azure/azure-sdk-for-net,
 *   sdk/eventhub/Azure.Messaging.EventHubs/src/Amqp/AmqpConnectionScope.cs, `CbsSaslHandlerName`
 *   and `CreateAmpqSettings`), whose client side sends a sasl-init with that mechanism and no
 *   initial response, and whose server side answers OK straight away (Azure/azure-amqp,
 *   src/Sasl/SaslAnonymousHandler.cs `OnStart`). A client with no mechanism in common gives up
 *   before the first frame (src/Sasl/SaslNegotiator.cs `OnSaslServerMechanisms`), which is what
 *   the .NET client did when only ANONYMOUS was offered.
 */

/** What rhea's SASL server calls for the mechanism a client picked (rhea/lib/sasl.js `SaslServer`). */
interface SaslServerMechanism {
  /** `true` once the exchange succeeded; rhea then answers sasl-outcome OK. */
  outcome: boolean | undefined;
  username: string | undefined;
  start(initialResponse?: Buffer): void;
}

/** A mechanism that accepts every client, naming it by its initial response if it sent one. */
class AcceptingMechanism implements SaslServerMechanism {
  outcome: boolean | undefined = undefined;
  username: string | undefined = undefined;
  start(initialResponse?: Buffer): void {
    this.outcome = true;
    this.username = initialResponse?.toString('utf8') ?? 'anonymous';
  }
}

/** The mechanism the service (and the .NET SDK) calls claims-based security over SASL. */
export const cbsMechanism = 'MSSBCBS';

/**
 * rhea's `container.sasl_server_mechanisms`: mechanism name → factory. ANONYMOUS comes first, so
 * rhea keeps accepting clients that skip SASL (it does so only when ANONYMOUS is offered, see
 * rhea/lib/connection.js), and a client picks the first offered mechanism it knows.
 */
export function saslServerMechanisms(): Record<string, () => SaslServerMechanism> {
  return {
    ANONYMOUS: () => new AcceptingMechanism(),
    [cbsMechanism]: () => new AcceptingMechanism(),
  };
}
