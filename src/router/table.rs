//! The routing table: the validated experiments, compiled for serving requests. It owns matching
//! (which experiment a request belongs to) and the list of routing headers every request is stripped of.

use std::ops::Deref;

use crate::router::config::{self, Config, ConfigError, Experiment};
use crate::router::ids::ExperimentId;
use crate::router::matching::ExperimentIndex;
use crate::router::signing::Environment;

/// The configuration (its accessors through `Deref`: `experiments()`, `signing()`, `fleet()`) and what
/// serving adds to it.
#[derive(Debug)]
pub struct RoutingTable {
    config: Config,
    /// Every distinct routing header, in first-use order: all are removed from every request.
    routing_headers: Vec<String>,
    index: ExperimentIndex,
}

impl Deref for RoutingTable {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}

impl RoutingTable {
    pub fn new(config: Config) -> Self {
        let mut routing_headers: Vec<String> = Vec::new();
        for exp in config.experiments() {
            if !routing_headers.contains(&exp.routing_header) {
                routing_headers.push(exp.routing_header.clone());
            }
        }
        let index = ExperimentIndex::new(config.experiments());
        RoutingTable {
            config,
            routing_headers,
            index,
        }
    }

    /// [`config::parse`], then [`RoutingTable::new`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        config::parse(bytes).map(Self::new)
    }

    /// [`config::parse_with_environment`], then [`RoutingTable::new`].
    pub fn parse_with_environment(
        bytes: &[u8],
        environment: &(impl Environment + ?Sized),
    ) -> Result<Self, ConfigError> {
        config::parse_with_environment(bytes, environment).map(Self::new)
    }

    pub fn experiment(&self, id: ExperimentId) -> Option<&Experiment> {
        self.config.experiments().get(id.index())
    }

    /// Every experiment with its id, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = (ExperimentId, &Experiment)> {
        self.config
            .experiments()
            .iter()
            .enumerate()
            .map(|(i, e)| (ExperimentId::from_index(i), e))
    }

    pub fn routing_headers(&self) -> &[String] {
        &self.routing_headers
    }

    /// Valid but probably unintended settings, for the log: a predictor with weight > 0 that owns no
    /// bucket (its share is below 1/10000 of the total) receives no random or hashed traffic; `fleet`
    /// without any pooled experiment is never queried.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (i, exp) in self.experiments().iter().enumerate() {
            for (j, p) in exp.predictors.iter().enumerate() {
                let empty = exp.buckets.range_of(j).is_some_and(|(start, end)| start == end);
                if p.weight > 0 && empty {
                    warnings.push(format!(
                        "experiments[{i}].predictors[{j}].weight: {} is less than 1/10000 of the total, so \"{}\" \
                         gets no random or hashed traffic (only sticky and forced)",
                        p.weight, p.name
                    ));
                }
            }
        }
        if self.fleet().is_some() && !self.experiments().iter().any(Experiment::is_pooled) {
            warnings
                .push("fleet: no experiment has `pooled: true`, so Prometheus is never queried".to_string());
        }
        warnings
    }

    /// Whether matching looks at the host at all (some experiment lists hosts other than `*`).
    pub fn matches_on_host(&self) -> bool {
        self.index.uses_hosts()
    }

    /// The first experiment (in configuration order) whose hosts and path prefix fit the request.
    /// `authority` is the raw `:authority` (port and case are dealt with here); `path` the raw `:path`.
    pub fn match_request(&self, authority: &[u8], path: &[u8]) -> Option<ExperimentId> {
        self.index.find(self.config.experiments(), authority, path)
    }
}
