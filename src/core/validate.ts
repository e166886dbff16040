// Validation belongs to the edges (the dispatcher, config and plan readers); the helpers are shared.
export { formatIssues, parse } from '../protocol/validate';
