// The block services' own addresses come from: its usable addresses, the first free one, bad blocks.
import { freeAddress, poolAddresses } from '../common/address-pool';

test('a block gives its addresses without its first and last, from any address inside it', () => {
  expect(poolAddresses('10.241.7.128/25')).toHaveLength(126);
  expect(poolAddresses('10.241.7.130/25')[0]).toBe('10.241.7.129');
  expect(poolAddresses('10.241.7.128/25').at(-1)).toBe('10.241.7.254');
  expect(poolAddresses('192.168.0.0/30')).toEqual(['192.168.0.1', '192.168.0.2']);
});

test('the first address no service holds is given; none when all are held', () => {
  expect(freeAddress('192.168.0.0/29', ['192.168.0.1', '192.168.0.3'])).toBe('192.168.0.2');
  expect(freeAddress('192.168.0.0/30', ['192.168.0.1', '192.168.0.2'])).toBeNull();
});

test.each(['10.0.0.0/8', '10.0.0.0/31', '10.0.0/24', '10.0.0.300/24', 'nonsense', ''])('the block "%s" is refused with what was expected', (cidr) => {
  expect(() => poolAddresses(cidr)).toThrow(`FASTMIG_SERVICE_ADDRESSES takes an IPv4 block from /16 to /30 (e.g. 10.0.5.128/25), got "${cidr}"`);
});
