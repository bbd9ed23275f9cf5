// Read on one device, dismiss on the others; hand off what nobody read.
// With `receipts` on, a device's client confirms each notification it showed
// ('delivered', once per device), and the hub says when no device of the user
// confirmed one in time ('undelivered', once in the cluster).
export function readReceipts(hub, { handOff }) {
  hub.on('delivered', ({ id, userId, socketId, event }) => {
    if (event !== 'notification') return;
    // The user's other devices drop it from their lists; the one that showed it knows its socket id.
    void hub.sendMessage(userId, 'notification-read', { id, readOn: socketId });
  });
  hub.on('undelivered', ({ id, userId, event, data }) => {
    // Nobody saw it: e-mail, web push or FCM instead.
    if (event === 'notification') handOff({ id, userId, data });
  });
}

// Sending one: keep the id sendMessage resolves with, to match the receipts.
export function notify(hub, userId, text) {
  return hub.sendMessage(userId, 'notification', { text });
}
