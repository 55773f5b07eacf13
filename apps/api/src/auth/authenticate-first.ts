import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { problems, sendProblem } from '../common/problem';
import { AuthedRequest } from './auth.decorators';
import { AuthThrottle } from './auth-throttle';
import { bearer } from './secrets';
import { TokenService } from './token.service';

/** How the agents' routes check their own credentials (enrollment tokens, agent credentials). */
export interface AgentCredentials {
  enrollmentTokenUsable(secret: string): Promise<boolean>;
  agentForCredential(secret: string): Promise<unknown>;
}

const ENROLL_PATH = '/agents/enroll';

/**
 * Mounted on `/v1` before any body is read: a request without a valid credential is answered
 * 401 from its headers alone, whatever its body's size, and a source that keeps failing is
 * answered 429 without a look at what it sends. API tokens leave their principal on the
 * request for the guard, which then checks roles and scope; agents' routes check an
 * enrollment token or an agent credential here and again, in full, in their service.
 */
export function authenticateFirst(tokens: TokenService, agents: AgentCredentials, throttle: AuthThrottle): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const source = req.socket.remoteAddress ?? 'unknown';
    const wait = throttle.retryAfterS(source);
    if (wait > 0) {
      sendProblem(req, res, problems.tooManyRequests(`too many failed authentications from this address; try again in ${wait} s`, wait));
      return;
    }
    // Express matches routes without regard to case or a trailing slash; so must this.
    const path = req.path.toLowerCase().replace(/\/+$/, '');
    const secret = bearer(req.headers.authorization);
    const refuse = (detail: string): void => {
      throttle.fail(source);
      sendProblem(req, res, problems.unauthorized(detail));
    };
    if (!secret) {
      refuse(`send Authorization: Bearer <${path.startsWith('/agents/') ? (path === ENROLL_PATH ? 'enrollment token' : 'agent credential') : 'token'}>`);
      return;
    }
    void check(req as AuthedRequest, path, secret)
      .then((detail) => (detail ? refuse(detail) : next()))
      .catch(next);
  };

  async function check(req: AuthedRequest, path: string, secret: string): Promise<string | null> {
    if (path === ENROLL_PATH) return (await agents.enrollmentTokenUsable(secret)) ? null : 'the enrollment token is unknown, revoked or expired';
    if (path.startsWith('/agents/')) return (await agents.agentForCredential(secret)) ? null : 'the agent credential is unknown or revoked';
    const principal = await tokens.authenticate(secret);
    if (!principal) return 'the token is unknown, expired or revoked';
    req.principal = principal;
    return null;
  }
}
