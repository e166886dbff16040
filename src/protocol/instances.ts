// Commands on the instance registry: workers register, heartbeat and leave.
import { z } from 'zod';
import { command } from './command';
import { Capability, Instance, InstanceView, WorkerId } from './model';

const WorkerParams = z.strictObject({ worker_id: WorkerId });

export const InstanceRegister = command({
  name: 'instance_register',
  kind: 'mutation',
  summary: 'Register this worker (again): it then counts as live while it heartbeats.',
  params: z.strictObject({
    worker_id: WorkerId,
    name: z.string().max(200).optional().describe('A name people see'),
    capabilities: z.array(Capability).max(100).optional().describe('What it can do: tasks needing other capabilities are not offered'),
    pid: z.number().int().positive().nullable().optional().describe('Its process id, if it is a local process'),
  }),
  result: z.object({ instance: Instance }),
  fills: { worker: 'worker_id' },
});

export const InstanceHeartbeat = command({
  name: 'instance_heartbeat',
  kind: 'mutation',
  summary: 'Tell the coordinator this worker is alive; one not heard from for the stale timeout loses its leases.',
  params: WorkerParams,
  result: z.object({ instance: Instance }),
  fills: { worker: 'worker_id' },
});

export const InstanceDeregister = command({
  name: 'instance_deregister',
  kind: 'mutation',
  summary: 'Remove this worker from the registry; its leases, locks and holds are freed at once.',
  params: WorkerParams,
  result: z.object({ worker_id: z.string(), freed_tasks: z.array(z.string()) }),
  fills: { worker: 'worker_id' },
});

export const InstanceList = command({
  name: 'instance_list',
  kind: 'query',
  summary: 'Registered workers: live or stale, when last heard from, and the task each holds.',
  params: z.strictObject({}),
  result: z.object({ instances: z.array(InstanceView) }),
});

export const INSTANCE_COMMANDS = [InstanceRegister, InstanceHeartbeat, InstanceDeregister, InstanceList] as const;
