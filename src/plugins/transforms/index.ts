import { addColumnsTransform } from './add-columns.js';
import { renameTransform } from './rename.js';

export const transforms = [renameTransform, addColumnsTransform];
