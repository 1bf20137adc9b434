import { hello } from '@tendril/xds';
console.log(hello());
