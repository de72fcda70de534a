use lfts::Schema;
use serde::{Deserialize, Serialize};

mod other {
    pub struct Duration {
        secs: u64,
    }

    impl Duration {
        pub fn new(secs: u64) -> Self {
            Duration { secs }
        }
        pub fn secs(&self) -> u64 {
            self.secs
        }
    }
}

#[derive(Serialize, Deserialize, Schema)]
#[serde(remote = "other::Duration")]
struct DurationDef {
    #[serde(getter = "other::Duration::secs")]
    secs: u64,
}

impl From<DurationDef> for other::Duration {
    fn from(def: DurationDef) -> other::Duration {
        other::Duration::new(def.secs)
    }
}

fn main() {}
