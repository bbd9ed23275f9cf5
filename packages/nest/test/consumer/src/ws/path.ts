import p from '@wshub/nest/dist/path';

p.path = '/consumer/ws';
