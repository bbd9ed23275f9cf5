export interface User {
  id: string;
  deviceFingerprint: string;
  role: 'admin' | 'user';
}
