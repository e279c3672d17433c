import type { TaskSpec } from '../../core/task-spec.js';
import { backupAction } from './backup-task.js';
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
      return backupAction(task.options);
  }
}
