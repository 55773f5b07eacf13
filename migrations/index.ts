import { Init1795654694139 } from './1795654694139-init';
import { PlacementGroups1795659365030 } from './1795659365030-placement-groups';
import { InstanceSnapshots1795660403782 } from './1795660403782-instance-snapshots';
import { HotInstanceStates1795681827563 } from './1795681827563-hot-instance-states';
import { HostCreateFailures1795685922432 } from './1795685922432-host-create-failures';
import { AgentsAndUniqueHostNames1796433351050 } from './1796433351050-agents-and-unique-host-names';

// Every migration, in order. Landed migrations are never edited; add new ones at the end.
export const MIGRATIONS = [Init1795654694139, PlacementGroups1795659365030, InstanceSnapshots1795660403782, HotInstanceStates1795681827563, HostCreateFailures1795685922432, AgentsAndUniqueHostNames1796433351050];
