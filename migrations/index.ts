import { Init1795654694139 } from './1795654694139-init';

// Every migration, in order. Landed migrations are never edited; add new ones at the end.
export const MIGRATIONS = [Init1795654694139];
