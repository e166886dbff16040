// The NATS client values the cluster code uses, in one module that is bundled on its own
// (dist/nats.js) and loaded on first use (nats-loader.ts): the extension's activation and the
// single-machine CLI never load the client. Types are imported from the packages directly.
export { connect, createInbox, credsAuthenticator, headers, nkeyAuthenticator, nuid, RequestError } from '@nats-io/transport-node';
export { DeliverPolicy, jetstream, JetStreamApiCodes, JetStreamApiError, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
export { Kvm } from '@nats-io/kv';
export { Objm } from '@nats-io/obj';
