import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { currentRequestId } from '@hyperplane/observability';
import { HostRepository } from '@hyperplane/db';
import { consoleReadJobId, ConsoleReadResult, hostQueueName, JobName, JobQueue } from '@hyperplane/queue';
import { Principal } from '../auth/principal';
import { problems } from '../common/problem';
import { InstanceService } from './instance.service';

/** The API's producer for reads answered by agents (console logs). */
export const API_READ_QUEUE = Symbol('API_READ_QUEUE');

/** How long the API waits for a host's agent to answer a console read. */
export const CONSOLE_READ_TIMEOUT_MS = 5000;

export interface ConsoleLog {
  instanceId: string;
  hostId: string;
  driver: string;
  lines: string[];
}

/**
 * The end of an instance's console log. The API does not reach hosts: it puts a console-read
 * job on the host's queue and waits (bounded) for the agent's answer in the job's return value.
 */
@Injectable()
export class InstanceConsoleService {
  constructor(
    private readonly instances: InstanceService,
    private readonly hosts: HostRepository,
    @Inject(API_READ_QUEUE) private readonly queue: JobQueue,
  ) {}

  async read(principal: Principal, id: string, lines: number, timeoutMs = CONSOLE_READ_TIMEOUT_MS): Promise<ConsoleLog> {
    const instance = await this.instances.visible(principal, id);
    if (!instance.hostId || !instance.driver) throw problems.conflict(`instance ${id} is not on a host (state ${instance.state}): it has no console yet`, { state: instance.state });
    const host = await this.hosts.get(instance.hostId);
    if (!host) throw problems.conflict(`instance ${id} is not on a host (state ${instance.state})`, { state: instance.state });
    const probe = host.drivers.find((d) => d.name === instance.driver);
    const offer = probe?.offers.find((o) => o.technology === instance.technology);
    if (!offer?.capabilities.includes('console')) {
      throw problems.conflict(`the ${instance.driver} driver does not offer a console log for ${instance.technology ?? 'this'}s on host ${host.name}`, { capability: 'console', driver: instance.driver });
    }
    if (host.status === 'down') throw problems.hostTimeout(`host ${host.name} is down (${host.statusReason ?? 'no heartbeat'}): its agent cannot answer`);
    const requestId = currentRequestId();
    const asked = await this.queue.ask(
      {
        queue: hostQueueName(host.agentId, host.id),
        name: JobName.ConsoleRead,
        jobId: consoleReadJobId(id, randomUUID()),
        data: { hostId: host.id, instanceId: id, driver: instance.driver, lines, ...(requestId ? { requestId } : {}) },
      },
      timeoutMs,
    );
    if (!asked.answered) {
      throw problems.hostTimeout(asked.failed ? `host ${host.name} could not read the console: ${asked.failed}` : `host ${host.name} did not answer within ${timeoutMs / 1000} s`);
    }
    const answer = asked.value as ConsoleReadResult;
    if (!answer.ok) {
      if (answer.error.code === 'NotFound') throw problems.conflict(`instance ${id} is not on host ${host.name} (yet): ${answer.error.message}`, { driverError: answer.error.code });
      if (answer.error.code === 'Unsupported') throw problems.conflict(answer.error.message, { capability: 'console', driverError: answer.error.code });
      throw problems.unavailable(`host ${host.name} could not read the console: ${answer.error.message}`);
    }
    return { instanceId: id, hostId: host.id, driver: instance.driver, lines: answer.lines };
  }
}
