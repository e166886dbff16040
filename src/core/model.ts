// The records the coordinator keeps are defined once, as the protocol's schemas; the core uses
// their types. (Parameters are parsed at the edge, by the dispatcher, never again in here.)
export {
  Id,
  INSTANCE_STATUSES,
  JsonValue,
  PoolName,
  ResourceAmounts,
  RetryBackoff,
  TASK_STATUSES,
  TaskInput,
  TaskSource,
  TaskStatus,
  type Instance,
  type InstanceStatus,
  type InstanceView,
  type Json,
  type Task,
  type TaskProgress,
} from '../protocol/model';
