import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { PlacementDecision, ProjectDecision } from '@hyperplane/scheduler';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { PreviewDto } from './preview.dto';
import { PreviewService } from './preview.service';

@ApiTags('placement')
@ApiBearerAuth()
@Controller('v1/placements')
export class PlacementController {
  constructor(private readonly previews: PreviewService) {}

  /**
   * The body of a create (without its name): where it would go now and why — the host, the
   * technology, the driver, the score and the next best; or, when nothing fits, how many hosts
   * each filter turned away. Writes nothing. A project's token sees why, but not the rest of the
   * fleet: no host names, no counts of hosts.
   */
  @Post('preview')
  @HttpCode(200)
  @ApiOkResponse({ description: 'The decision ({ ok, hostId, technology, driver, score, claim, explanation } or { ok: false, reason, explanation })' })
  preview(@CurrentPrincipal() principal: Principal, @Body() dto: PreviewDto): Promise<PlacementDecision | ProjectDecision> {
    return this.previews.preview(principal, dto);
  }
}
