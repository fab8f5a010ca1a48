//! The CPU time an operation costs the machine: this process's and a server
//! process's (from `/proc/<pid>/stat`), per operation. When client and server
//! share the cores and keep them busy, rates go as the inverse of that cost,
//! so `plain cost ÷ coffer cost` bounds the ratio coffer can reach there.

use std::cell::RefCell;
use std::time::{Duration, Instant};

/// Reads the CPU time of this process and of the server.
pub(crate) struct CpuMeter {
    server: u32,
    seconds_per_tick: f64,
}

/// What a case spent over its rounds.
#[derive(Default, Clone, Copy)]
pub(crate) struct Spent {
    client: f64,
    server: f64,
    wall: f64,
    ops: f64,
}

impl CpuMeter {
    pub(crate) fn new(server: u32) -> Self {
        let ticks = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .unwrap_or(100.0);
        Self {
            server,
            seconds_per_tick: 1.0 / ticks,
        }
    }

    /// User and system time of `pid` (all its threads), in seconds.
    fn of(&self, pid: &str) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return 0.0;
        };
        // The fields after the command name (in parentheses): utime and
        // stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
            .sum();
        ticks * self.seconds_per_tick
    }

    fn now(&self) -> (f64, f64) {
        (self.of("self"), self.of(&self.server.to_string()))
    }

    /// `case` (a round of a budget, giving operations per second), adding
    /// what each round spends to `spent`.
    pub(crate) fn counted<'a>(
        &'a self,
        spent: &'a RefCell<Spent>,
        mut case: impl FnMut(Duration) -> f64 + 'a,
    ) -> Box<dyn FnMut(Duration) -> f64 + 'a> {
        Box::new(move |budget| {
            let (client, server) = self.now();
            let start = Instant::now();
            let rate = case(budget);
            let wall = start.elapsed().as_secs_f64();
            let (client_after, server_after) = self.now();
            let mut spent = spent.borrow_mut();
            spent.client += client_after - client;
            spent.server += server_after - server;
            spent.wall += wall;
            spent.ops += rate * wall;
            rate
        })
    }
}

impl Spent {
    /// Milliseconds of CPU per operation: this process's, the server's.
    fn per_op(&self) -> (f64, f64) {
        let ops = self.ops.max(1.0);
        (self.client / ops * 1e3, self.server / ops * 1e3)
    }

    /// The cores kept busy on average while the case ran.
    fn cores_busy(&self) -> f64 {
        (self.client + self.server) / self.wall.max(1e-9)
    }
}

/// Prints what one operation of coffer and of the plain client cost the
/// machine, and the ratio that cost bounds.
pub(crate) fn report(operation: &str, bytes: usize, coffer: Spent, plain: Spent) {
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let side = |spent: &Spent| {
        let (client, server) = spent.per_op();
        serde_json::json!({
            "client_cpu_ms": round(client),
            "server_cpu_ms": round(server),
            "cores_busy": round(spent.cores_busy()),
        })
    };
    let total = |spent: &Spent| {
        let (client, server) = spent.per_op();
        client + server
    };
    println!(
        "{}",
        serde_json::json!({
            "case": format!("cpu_per_{operation}"),
            "bytes": bytes,
            "coffer": side(&coffer),
            "plain": side(&plain),
            "cpu_bound_ratio": round(total(&plain) / total(&coffer).max(1e-9)),
        })
    );
}
