//! Address ranges to scan: `10.0.0.0/24`, `10.0.0.5-10.0.0.40`, or one address.
//! IPv4 only: an IPv6 subnet cannot be swept address by address.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Ranges larger than this many addresses need an explicit confirmation.
pub const LARGE_SCAN: usize = 4096;
/// Never more than this in one scan, confirmed or not (a /16).
pub const MAX_SCAN: usize = 65_536;

/// One range as typed, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl AddressRange {
    /// Parses `a.b.c.d/nn`, `a.b.c.d-e.f.g.h` or `a.b.c.d`. In a CIDR block of /30 or
    /// wider, the network and broadcast addresses are left out.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = |why: &str| {
            format!(
                "“{text}” is not a range: {why} (write 10.0.0.0/24, 10.0.0.5-10.0.0.40 or 10.0.0.7)"
            )
        };
        if let Some((net, bits)) = text.split_once('/') {
            let net: Ipv4Addr = net
                .trim()
                .parse()
                .map_err(|_| bad("the address is not IPv4"))?;
            let bits: u32 = bits
                .trim()
                .parse()
                .map_err(|_| bad("the prefix length is not a number"))?;
            if bits > 32 {
                return Err(bad("the prefix length is over 32"));
            }
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let base = u32::from(net) & mask;
            let top = base | !mask;
            let (first, last) = if bits <= 30 {
                (base + 1, top - 1)
            } else {
                (base, top)
            };
            return Ok(Self {
                first: first.into(),
                last: last.into(),
            });
        }
        if let Some((a, b)) = text.split_once('-') {
            let first: Ipv4Addr = a
                .trim()
                .parse()
                .map_err(|_| bad("the first address is not IPv4"))?;
            let last: Ipv4Addr = b
                .trim()
                .parse()
                .map_err(|_| bad("the last address is not IPv4"))?;
            if u32::from(last) < u32::from(first) {
                return Err(bad("the last address comes before the first"));
            }
            return Ok(Self { first, last });
        }
        let one: Ipv4Addr = text.parse().map_err(|_| bad("not an IPv4 address"))?;
        Ok(Self {
            first: one,
            last: one,
        })
    }

    pub fn len(&self) -> usize {
        (u32::from(self.last) - u32::from(self.first)) as usize + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(self.first)..=u32::from(self.last)).contains(&u32::from(ip))
    }
}

/// The addresses of `include` minus `exclude`, in order, each once. Refuses more than
/// [`LARGE_SCAN`] addresses unless `confirmed`, and more than [`MAX_SCAN`] always.
pub fn addresses(
    include: &[AddressRange],
    exclude: &[AddressRange],
    confirmed: bool,
) -> Result<Vec<Ipv4Addr>, String> {
    let total: usize = include.iter().map(AddressRange::len).sum();
    if total > MAX_SCAN {
        return Err(format!(
            "{total} addresses is more than one scan may cover ({MAX_SCAN}, a /16); split the ranges"
        ));
    }
    if total > LARGE_SCAN && !confirmed {
        return Err(format!(
            "{total} addresses is a large scan (more than {LARGE_SCAN}); confirm it to go ahead"
        ));
    }
    let mut set = BTreeSet::new();
    for range in include {
        for n in u32::from(range.first)..=u32::from(range.last) {
            let ip = Ipv4Addr::from(n);
            if !exclude.iter().any(|x| x.contains(ip)) {
                set.insert(ip);
            }
        }
    }
    Ok(set.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_blocks_leave_out_network_and_broadcast() {
        let r = AddressRange::parse("10.1.2.77/24").unwrap();
        assert_eq!(r.first, Ipv4Addr::new(10, 1, 2, 1));
        assert_eq!(r.last, Ipv4Addr::new(10, 1, 2, 254));
        assert_eq!(r.len(), 254);
        assert_eq!(AddressRange::parse("10.0.0.9/32").unwrap().len(), 1);
    }

    #[test]
    fn start_end_ranges_and_single_addresses_parse() {
        assert_eq!(
            AddressRange::parse(" 10.0.0.5 - 10.0.0.40 ").unwrap().len(),
            36
        );
        assert_eq!(AddressRange::parse("192.168.1.7").unwrap().len(), 1);
        for bad in [
            "10.0.0.40-10.0.0.5",
            "10.0.0.0/33",
            "printer.local",
            "fe80::1",
            "",
        ] {
            assert!(AddressRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn excluded_addresses_are_never_in_the_scan() {
        let include = [AddressRange::parse("127.0.0.0/29").unwrap()];
        let exclude = [AddressRange::parse("127.0.0.3").unwrap()];
        let list = addresses(&include, &exclude, false).unwrap();
        assert_eq!(list.len(), 5);
        assert!(!list.contains(&Ipv4Addr::new(127, 0, 0, 3)));
    }

    #[test]
    fn large_scans_need_confirmation_and_huge_ones_are_refused() {
        let big = [AddressRange::parse("10.0.0.0/19").unwrap()];
        let err = addresses(&big, &[], false).unwrap_err();
        assert!(err.contains("confirm"), "{err}");
        assert_eq!(addresses(&big, &[], true).unwrap().len(), 8190);
        let huge = [AddressRange::parse("10.0.0.0/8").unwrap()];
        assert!(addresses(&huge, &[], true).unwrap_err().contains("split"));
    }
}
