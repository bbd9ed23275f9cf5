import { Injectable } from '@nestjs/common';

export interface AppUser {
  id: string;
  deviceFingerprint: string;
  role: string;
}

@Injectable()
export class AuthService {
  async validateToken(token: string | null): Promise<AppUser> {
    if (token === 'alice-token') return { id: 'alice', deviceFingerprint: 'laptop', role: 'admin' };
    if (token === 'bob-token') return { id: 'bob', deviceFingerprint: 'phone', role: 'user' };
    throw new Error('unknown token');
  }
}
