import type { Caller } from '../protocol/api';
import type { ParamsOf } from '../protocol/command';
import type { Task } from '../protocol/model';
import { TaskList } from '../protocol/tasks';

/** Every task matching the filters, page by page (each reply stays bounded, the list does not). */
export async function listAllTasks(api: Caller, filter: Omit<ParamsOf<typeof TaskList>, 'cursor'> = {}): Promise<Task[]> {
  const tasks: Task[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.call(TaskList, { ...filter, ...(cursor !== undefined ? { cursor } : {}) });
    for (const t of page.tasks) tasks.push(t);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return tasks;
}
