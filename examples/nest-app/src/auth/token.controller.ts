import { Controller, Get, NotFoundException, Query } from '@nestjs/common';
import { issueToken } from './demo-tokens.js';

/**
 * `GET /demo/token?account=bob-token`: a short-lived session token for a demo
 * account, as a real app's login or token endpoint would hand out.
 */
@Controller('demo')
export class TokenController {
  @Get('token')
  token(@Query('account') account: string | undefined): { token: string; expiresAt: number } {
    const issued = account ? issueToken(account) : undefined;
    if (!issued) throw new NotFoundException(`no demo account "${account ?? ''}"`);
    return issued;
  }
}
