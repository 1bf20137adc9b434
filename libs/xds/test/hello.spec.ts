import { hello } from '../src';
test('hello', () => expect(hello()).toBe('hi'));
