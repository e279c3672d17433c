import { addColumnsTransform } from './add-columns.js';
import { normalizeTransform } from './normalize.js';
import { renameTransform } from './rename.js';

export const transforms = [renameTransform, addColumnsTransform, normalizeTransform];
