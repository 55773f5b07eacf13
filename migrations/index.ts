import { Init1795654694139 } from './1795654694139-init';
import { PlacementGroups1795659365030 } from './1795659365030-placement-groups';
import { InstanceSnapshots1795660403782 } from './1795660403782-instance-snapshots';
import { HotInstanceStates1795681827563 } from './1795681827563-hot-instance-states';
import { HostCreateFailures1795685922432 } from './1795685922432-host-create-failures';
import { TokenBootstrapFlags1796433017885 } from './1796433017885-token-bootstrap-flags';
import { OperationRequestId1796433095619 } from './1796433095619-operation-request-id';
import { EventsByProject1796433974784 } from './1796433974784-events-by-project';
import { WebhooksAudit1796434990923 } from './1796434990923-webhooks-audit';
import { QuotasUsageRates1796435081266 } from './1796435081266-quotas-usage-rates';
import { AgentsAndUniqueHostNames1796436436623 } from './1796436436623-agents-and-unique-host-names';
import { MilliVcpus1796440000000 } from './1796440000000-milli-vcpus';
import { PolicyNotify1796440000001 } from './1796440000001-policy-notify';
import { InstanceHa1796443871016 } from './1796443871016-instance-ha';
import { HostDrainDeadline1796454101876 } from './1796454101876-host-drain-deadline';
import { ScaleIndexes1796456593892 } from './1796456593892-scale-indexes';
import { WebhookNotify1796460000000 } from './1796460000000-webhook-notify';
import { MeterByStatement1796470000000 } from './1796470000000-meter-by-statement';
import { OperationWatchIndexes1796470000001 } from './1796470000001-operation-watch-indexes';
import { BatchDeleteParents1796480000000 } from './1796480000000-batch-delete-parents';
import { RequireFunction1796490000000 } from './1796490000000-require-function';

// Every migration, in order. Landed migrations are never edited; add new ones at the end.
export const MIGRATIONS = [
  Init1795654694139,
  PlacementGroups1795659365030,
  InstanceSnapshots1795660403782,
  HotInstanceStates1795681827563,
  HostCreateFailures1795685922432,
  TokenBootstrapFlags1796433017885,
  OperationRequestId1796433095619,
  EventsByProject1796433974784,
  WebhooksAudit1796434990923,
  QuotasUsageRates1796435081266,
  AgentsAndUniqueHostNames1796436436623,
  MilliVcpus1796440000000,
  PolicyNotify1796440000001,
  InstanceHa1796443871016,
  HostDrainDeadline1796454101876,
  ScaleIndexes1796456593892,
  WebhookNotify1796460000000,
  MeterByStatement1796470000000,
  OperationWatchIndexes1796470000001,
  BatchDeleteParents1796480000000,
  RequireFunction1796490000000,
];
