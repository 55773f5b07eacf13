import { Body, Controller, Headers, HttpCode, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators';
import { bearer } from '../auth/secrets';
import { problems } from '../common/problem';
import { EnrolledHost, Enrollment, AgentService, Rotation } from './agent.service';
import { AssignmentsRequestDto, EnrollRequestDto, InventoryRequestDto } from './host-inventory.dto';

/** Agents authenticate with their own secrets, not API tokens. */
@ApiTags('agents')
@ApiBearerAuth()
@Public()
@Controller('v1/agents')
export class AgentController {
  constructor(private readonly agents: AgentService) {}

  /** Bearer: an enrollment token. Answers with the agent's credential and a host id per host. */
  @Post('enroll')
  @HttpCode(201)
  @ApiCreatedResponse({ description: 'The credential (shown once) and the enrolled hosts with their queues' })
  enroll(@Headers('authorization') authorization: string | undefined, @Body() dto: EnrollRequestDto): Promise<Enrollment> {
    const secret = bearer(authorization);
    if (!secret) throw problems.unauthorized('send Authorization: Bearer <enrollment token>');
    return this.agents.enroll(secret, dto.hosts);
  }

  /** Bearer: the agent credential. More hosts for an enrolled agent (the pages after the first). */
  @Post('hosts')
  @HttpCode(201)
  @ApiCreatedResponse({ description: 'The enrolled hosts with their queues' })
  async addHosts(@Headers('authorization') authorization: string | undefined, @Body() dto: EnrollRequestDto): Promise<{ hosts: EnrolledHost[] }> {
    const secret = bearer(authorization);
    if (!secret) throw problems.unauthorized('send Authorization: Bearer <agent credential>');
    return { hosts: await this.agents.enrollMore(secret, dto.hosts) };
  }

  /** Bearer: the agent credential. A new credential and Redis password (shown once); the old ones stop working. */
  @Post('rotate')
  @HttpCode(200)
  @ApiOkResponse({ description: 'The new credential and Redis user' })
  rotate(@Headers('authorization') authorization: string | undefined): Promise<Rotation> {
    const secret = bearer(authorization);
    if (!secret) throw problems.unauthorized('send Authorization: Bearer <agent credential>');
    return this.agents.rotate(secret);
  }

  /** Bearer: the agent credential. Replaces what the hosts report about themselves. */
  @Put('inventory')
  @HttpCode(204)
  @ApiNoContentResponse()
  async inventory(@Headers('authorization') authorization: string | undefined, @Body() dto: InventoryRequestDto): Promise<void> {
    const secret = bearer(authorization);
    if (!secret) throw problems.unauthorized('send Authorization: Bearer <agent credential>');
    await this.agents.report(secret, dto.hosts);
  }

  /**
   * Bearer: the agent credential. HA fencing: of the instances each host holds, those that now
   * live elsewhere or were deleted (the agent destroys them without starting them), and the
   * host's HA instances (the agent fences them when it cannot renew its lease).
   */
  @Post('assignments')
  @HttpCode(200)
  @ApiOkResponse({ description: 'Per host: foreign instance ids and HA instance ids' })
  assignments(@Headers('authorization') authorization: string | undefined, @Body() dto: AssignmentsRequestDto): Promise<{ hosts: { hostId: string; foreign: string[]; ha: string[] }[] }> {
    const secret = bearer(authorization);
    if (!secret) throw problems.unauthorized('send Authorization: Bearer <agent credential>');
    return this.agents.assignments(secret, dto.hosts);
  }
}
