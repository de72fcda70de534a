//! Which fault each connection meets: a pure function of the plan and the connection index.
//!
//! Nothing here looks at a clock or at the network, so a plan replays the same faults in the same
//! order on every run, however the connections happen to be timed.

use std::time::Duration;

/// What [`FaultProxy`](super::FaultProxy) does to one TCP connection.
///
/// A fault applies to a whole connection, not to one HTTP request: see the
/// [module docs](super) for how to make a client open one connection per request.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward both ways untouched.
    Pass,
    /// Accept the connection, then close it at once with a TCP RST (`SO_LINGER` 0); nothing is
    /// forwarded and the upstream is never contacted.
    Refuse,
    /// Wait this long (on tokio's clock) before forwarding anything, then behave as [`Fault::Pass`].
    Delay(Duration),
    /// Forward the request and let the upstream answer, then reset the client connection without
    /// forwarding a single response byte: the request was processed but its answer is lost.
    ///
    /// The proxy waits (at most 30 s) for the first response byte, then reads on until the upstream
    /// closes or stays quiet for 50 ms, so the upstream has finished its work before the client
    /// sees the failure.
    DropResponse,
    /// Forward the request, forward only the first half of the first response chunk (at least one
    /// byte and never the whole chunk), then reset the client connection.
    ResetMidResponse,
    /// Never contact the upstream: read the request head, answer `503 Service Unavailable` with
    /// `retry-after: 0`, `connection: close` and a small JSON body, then close.
    ///
    /// The body is `{"error":"unavailable","message":"injected by lfts::testing::FaultProxy"}`.
    Unavailable,
}

/// Decides which [`Fault`] each connection gets, by its 0-based index in accept order.
///
/// The decision for connection `n` is taken in this order:
///
/// 1. the schedule ([`FaultPlan::schedule`]): connection `n` gets the `n`-th fault of the list;
/// 2. the bursts ([`FaultPlan::burst`]), in the order they were added;
/// 3. the rates ([`FaultPlan::rate`]), drawn from a generator seeded with the plan's seed and `n`
///    only ([`FaultPlan::seeded`]);
/// 4. otherwise [`Fault::Pass`].
///
/// [`FaultPlan::fault_for`] is that decision; it never depends on timing, so the same plan gives
/// the same fault to the same connection index on every run.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    schedule: Vec<Fault>,
    bursts: Vec<Burst>,
    rates: Vec<(Fault, f64)>,
    seed: u64,
}

/// Connections with `index % every < length` get `fault`.
#[derive(Debug, Clone, Copy)]
struct Burst {
    fault: Fault,
    every: u64,
    length: u64,
}

impl FaultPlan {
    /// A plan without faults: every connection gets [`Fault::Pass`].
    pub fn pass() -> FaultPlan {
        FaultPlan::default()
    }

    /// Connection `n` (0-based, in accept order) gets `faults[n]`; connections past the end of
    /// the list get [`Fault::Pass`] (or whatever bursts and rates added to the plan decide).
    pub fn schedule(faults: impl IntoIterator<Item = Fault>) -> FaultPlan {
        FaultPlan {
            schedule: faults.into_iter().collect(),
            ..FaultPlan::default()
        }
    }

    /// A plan of random faults drawn from `seed`; every rate is 0 until set with
    /// [`FaultPlan::rate`].
    pub fn seeded(seed: u64) -> FaultPlan {
        FaultPlan {
            seed,
            ..FaultPlan::default()
        }
    }

    /// Each connection gets `fault` with this probability.
    ///
    /// Rates are cumulative: the draw for a connection falls into the first rate's share, then the
    /// second's, and so on; the sum is clamped to 1, so when it exceeds 1 the rates added last get
    /// less than asked for. The remainder is [`Fault::Pass`]. Setting a rate for a fault that
    /// already has one replaces it in place. A probability that is not a number or is below 0
    /// counts as 0; one above 1 counts as 1.
    ///
    /// Draws use the plan's seed ([`FaultPlan::seeded`]; 0 for other plans).
    pub fn rate(mut self, fault: Fault, probability: f64) -> FaultPlan {
        // `!(p > 0.0)` also catches NaN.
        let probability = if probability > 0.0 {
            probability.min(1.0)
        } else {
            0.0
        };
        match self.rates.iter_mut().find(|(known, _)| *known == fault) {
            Some(slot) => slot.1 = probability,
            None => self.rates.push((fault, probability)),
        }
        self
    }

    /// Deterministic bursts: connections with `index % every < length` get `fault`.
    ///
    /// Bursts take precedence over rates (but not over a schedule); among several bursts the one
    /// added first wins. `every == 0` never matches. Useful for "503 bursts":
    /// `FaultPlan::pass().burst(Fault::Unavailable, 10, 3)` answers 503 to connections 0–2,
    /// 10–12, 20–22, …
    pub fn burst(mut self, fault: Fault, every: u64, length: u64) -> FaultPlan {
        self.bursts.push(Burst {
            fault,
            every,
            length,
        });
        self
    }

    /// The fault connection number `connection` (0-based, in accept order) gets.
    ///
    /// A pure function of the plan and the index: the same seed and the same index always give the
    /// same fault.
    pub fn fault_for(&self, connection: u64) -> Fault {
        let scheduled = usize::try_from(connection)
            .ok()
            .and_then(|index| self.schedule.get(index));
        if let Some(&fault) = scheduled {
            return fault;
        }
        let burst = self
            .bursts
            .iter()
            .find(|burst| burst.every > 0 && connection % burst.every < burst.length);
        if let Some(burst) = burst {
            return burst.fault;
        }
        if self.rates.is_empty() {
            return Fault::Pass;
        }
        let draw = fastrand::Rng::with_seed(mix(self.seed, connection)).f64();
        let mut upper = 0.0;
        for &(fault, probability) in &self.rates {
            upper = f64::min(upper + probability, 1.0);
            if draw < upper {
                return fault;
            }
        }
        Fault::Pass
    }
}

/// One generator seed per (plan seed, connection index), so a decision depends on nothing else.
fn mix(seed: u64, index: u64) -> u64 {
    splitmix64(seed ^ splitmix64(index))
}

/// The SplitMix64 finaliser (Steele, Lea, Flood 2014): spreads neighbouring inputs apart.
fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_then_bursts_then_rates() {
        let plan = FaultPlan::schedule([Fault::Refuse])
            .burst(Fault::Unavailable, 4, 1)
            .rate(Fault::DropResponse, 1.0);
        assert_eq!(plan.fault_for(0), Fault::Refuse);
        assert_eq!(plan.fault_for(1), Fault::DropResponse);
        assert_eq!(plan.fault_for(4), Fault::Unavailable);
    }

    #[test]
    fn odd_probabilities_are_clamped() {
        let never = FaultPlan::seeded(7)
            .rate(Fault::Refuse, f64::NAN)
            .rate(Fault::Unavailable, -3.0);
        let always = FaultPlan::seeded(7).rate(Fault::Refuse, 9.0);
        for index in 0..1_000 {
            assert_eq!(never.fault_for(index), Fault::Pass);
            assert_eq!(always.fault_for(index), Fault::Refuse);
        }
    }

    #[test]
    fn zero_period_burst_never_matches() {
        let plan = FaultPlan::pass().burst(Fault::Refuse, 0, 5);
        assert_eq!(plan.fault_for(0), Fault::Pass);
    }
}
