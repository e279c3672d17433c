import type { TaskSpec } from '../../core/task-spec.js';
import { commandAction } from './command-task.js';
import { maintenanceAction } from './maintenance-task.js';
import type { TaskAction } from './run-task.js';

/** The work a task of each type does. */
export function taskAction(task: TaskSpec): TaskAction {
  switch (task.type) {
    case 'command':
      return commandAction(task.options);
    case 'maintenance':
      return maintenanceAction(task.options);
    case 'backup':
      throw new Error(`${task.type} tasks are not available yet`);
  }
}
