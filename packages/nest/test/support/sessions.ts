import { ClientMessageEvent, ClientReadyEvent } from '@wshub/nest';
import type { EventProbe } from './event-probe.js';
import type { RunningApp } from './start-app.js';
import type { TestSocket as TestClient } from '@wshub/test-support';

let syncCounter = 0;

/** Connects with `?<query>` and waits for the module's `ClientReadyEvent` of that user and device. */
export async function connectReady(
  running: RunningApp,
  probe: EventProbe,
  path: string,
  query: string,
  userId: string,
  device: string,
): Promise<TestClient> {
  const ready = probe.next(ClientReadyEvent, (e) => e.userId === userId && e.deviceFingerprint === device);
  const client = running.connect(path, query);
  await Promise.all([client.opened, ready]);
  return client;
}

/**
 * Resolves once the server has handled every frame this client sent before:
 * frames of one socket are handled in order, and the module publishes a
 * `ClientMessageEvent` for the marker frame.
 */
export async function synced(client: TestClient, probe: EventProbe): Promise<void> {
  const marker = ++syncCounter;
  const seen = probe.next(ClientMessageEvent, (e) => e.event === 'sync' && e.data === marker);
  client.emit('sync', marker);
  await seen;
}
