/** The Azure Monitor settings: read strictly, and nothing started without a connection string. */
import {
  app as functionsApp,
  InvocationContext,
  PreInvocationContext,
  type PreInvocationHandler,
} from '@azure/functions';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadSection } from '../../../lib/config.js';
import { clientIdOf, joinHostTraces, startAzureMonitor } from '../../../lib/observability/azure.js';

describe('Azure Monitor settings', () => {
  it('reads the sampling ratio as a share from 0 to 1, 1 by default', () => {
    expect(loadSection('monitor', {}).TRACES_SAMPLING_RATIO).toBe(1);
    expect(loadSection('monitor', { TRACES_SAMPLING_RATIO: '0.25' }).TRACES_SAMPLING_RATIO).toBe(
      0.25,
    );
    for (const bad of ['1.5', '-0.1', 'half']) {
      expect(() => loadSection('monitor', { TRACES_SAMPLING_RATIO: bad })).toThrow(ConfigError);
    }
  });

  it('finds the managed identity client id in the authentication string', () => {
    expect(clientIdOf('ClientId=0f1e2d3c-aaaa-bbbb-cccc-123456789abc;Authorization=AAD')).toBe(
      '0f1e2d3c-aaaa-bbbb-cccc-123456789abc',
    );
    expect(clientIdOf('Authorization=AAD; clientid=abc')).toBe('abc');
    expect(clientIdOf('Authorization=AAD')).toBeUndefined();
    expect(clientIdOf(undefined)).toBeUndefined();
  });

  it('starts nothing without a connection string', async () => {
    const before = metrics.getMeterProvider();
    expect(await startAzureMonitor(loadSection('monitor', { TRACES_SAMPLING_RATIO: '0.5' }))).toBe(
      false,
    );
    expect(metrics.getMeterProvider()).toBe(before);
  });
});

describe('joinHostTraces', () => {
  it('runs each invocation in the trace the host started for it', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      // The real library's app and hook context; the hook is taken as the worker would run it.
      const hooks: PreInvocationHandler[] = [];
      const app = {
        setup: functionsApp.setup,
        hook: { preInvocation: (hook: PreInvocationHandler) => hooks.push(hook) },
      } as unknown as typeof functionsApp;
      joinHostTraces(app);
      const invocation = new PreInvocationContext({
        invocationContext: new InvocationContext({
          traceContext: { traceParent: `00-${traceId}-b7ad6b7169203331-01`, attributes: {} },
        }),
        functionCallback: () => trace.getSpanContext(context.active())?.traceId,
      });
      for (const hook of hooks) await hook(invocation);
      expect(await invocation.functionHandler(undefined, new InvocationContext())).toBe(traceId);
    } finally {
      context.disable();
      propagation.disable();
    }
  });
});
