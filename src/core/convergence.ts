// Task groups converge by rules that are pure functions of the tasks; they live with the shapes
// they produce in the protocol, so the views derive a group's status exactly as the core does.
export {
  checkpointOf,
  GROUP_DEPENDENCY,
  groupStatus,
  isFinished,
  type Checkpoint,
  type GroupStatus,
  type StreamState,
} from '../protocol/groups';
