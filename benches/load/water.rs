//! Water quality under load, on its own server and durable SQLite file, with its HJ 212
//! listener: 50 river sections in Shiyan's counties, each with a station.
//!
//! - RecordWaterSample from `config.concurrency` clients, each sample holding 9 values
//!   (water temperature, pH, DO, CODMn, COD, BOD5, NH3-N, TP, TN), mostly class II with an
//!   exceedance now and then, hour after hour of the past year (bar: 5,000 samples/s);
//! - the same RecordWaterSample path then fills the year: 50 sections × 8,760 hours =
//!   438,000 samples, and GetWaterQualityAssessment of Shiyan over that year is timed one
//!   call after another (bar: p99 under 50 ms);
//! - last, HJ 212-2017 packets of the same 9 values over 8 TCP connections, each keeping
//!   32 packets in flight and reading their CN=9014 answers (bar: 5,000 packets/s).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use duikou::{
    domain::{
        access::Role,
        hj212,
        monitoring::{ControlLevel, SectionState},
        water::{WaterBodyType, WaterClass},
    },
    proto::v1::{
        CreateMonitoringStationRequest, GetWaterQualityAssessmentRequest, MonitoringStation,
        RecordWaterSampleRequest, WaterSample, WaterValue,
        water_quality_service_client::WaterQualityServiceClient,
    },
    store::entities::{monitoring_section, region, water_sample},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    task::JoinSet,
};

use crate::{
    driver::{Authed, connect, percentile_ms},
    knobs::BenchConfig,
    servers::OwnServer,
};

/// Sections, and stations (one each).
const SECTIONS: usize = 50;
/// Hours of the year the assessment covers, unless `DUIKOU_BENCH_WATER_HOURS` says
/// otherwise.
const YEAR_HOURS: usize = 365 * 24;
/// Assessments timed, one after another.
const ASSESSMENTS: usize = 300;
/// TCP connections of the HJ 212 workload.
const STATION_CONNECTIONS: usize = 8;
/// Packets each connection keeps in flight.
const WINDOW: usize = 32;
/// The bars.
const SAMPLES_PER_SEC_BAR: f64 = 5_000.0;
const PACKETS_PER_SEC_BAR: f64 = 5_000.0;
const ASSESSMENT_P99_MS_BAR: f64 = 50.0;

/// Runs the three water measurements; returns their figures.
pub async fn measure(config: &BenchConfig) -> Result<serde_json::Value> {
    println!();
    println!("water quality, on its own server, SQLite file and HJ 212 listener …");
    let hours = match std::env::var("DUIKOU_BENCH_WATER_HOURS") {
        Ok(v) => v
            .parse::<usize>()
            .with_context(|| format!("DUIKOU_BENCH_WATER_HOURS={v} is not a count"))?,
        Err(_) => YEAR_HOURS,
    };
    let own = OwnServer::start_with("water", Role::Monitor, true).await?;
    let outcome = async {
        let sections = sections(&own).await?;
        let channels = connect(own.addr, config.connections, &own.secret).await?;
        let year_start = Utc::now().duration_trunc(TimeDelta::hours(1))? - TimeDelta::hours(hours as i64);
        let slots = Arc::new(AtomicUsize::new(0));
        let record = record(config, &channels, &sections, (year_start, hours), &slots, true).await?;
        println!(
            "  RecordWaterSample (9 values): {:.0} samples/s, p50 {:.3} ms, p99 {:.3} ms, {} errors",
            record.rate, record.p50_ms, record.p99_ms, record.errors
        );
        let started = Instant::now();
        let filled = record_rest(config, &channels, &sections, (year_start, hours), &slots).await?;
        let stored = water_sample::Entity::find()
            .count(own.store.db())
            .await
            .context("counting samples")?;
        println!(
            "  filled the year: {stored} samples ({filled} errors) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        ensure!(stored >= (SECTIONS * hours) as u64, "the year holds {stored} samples");
        let assessment = assess(&channels[0], year_start, hours).await?;
        println!(
            "  GetWaterQualityAssessment of Shiyan over the year: p50 {:.3} ms, p99 {:.3} ms, \
             max {:.3} ms, {} sections",
            assessment.p50_ms, assessment.p99_ms, assessment.max_ms, assessment.sections
        );
        let stations = register_stations(&channels[0], &sections).await?;
        let ingest = ingest(
            config,
            own.stations.context("the server takes no stations")?,
            &stations,
        )
        .await?;
        println!(
            "  HJ 212 ingest over {STATION_CONNECTIONS} connections ({WINDOW} packets in flight \
             each): {:.0} packets/s, {} unanswered",
            ingest.rate, ingest.errors
        );
        let bars = json!([
            {
                "name": "RecordWaterSample ≥ 5,000 samples/s of 9 values with 0 errors",
                "holds": record.rate >= SAMPLES_PER_SEC_BAR && record.errors == 0,
            },
            {
                "name": "GetWaterQualityAssessment of Shiyan over a year p99 < 50 ms",
                "holds": assessment.p99_ms < ASSESSMENT_P99_MS_BAR,
            },
            {
                "name": "HJ 212 ingest ≥ 5,000 packets/s over 8 connections, all answered",
                "holds": ingest.rate >= PACKETS_PER_SEC_BAR && ingest.errors == 0,
            },
        ]);
        Ok::<_, anyhow::Error>(json!({
            "record_water_sample": {
                "samples_per_sec": record.rate,
                "p50_ms": record.p50_ms,
                "p99_ms": record.p99_ms,
                "errors": record.errors,
                "values_per_sample": 9,
            },
            "assessment": {
                "samples": stored,
                "sections": assessment.sections,
                "calls": ASSESSMENTS,
                "p50_ms": assessment.p50_ms,
                "p99_ms": assessment.p99_ms,
                "max_ms": assessment.max_ms,
            },
            "hj212_ingest": {
                "packets_per_sec": ingest.rate,
                "connections": STATION_CONNECTIONS,
                "in_flight_per_connection": WINDOW,
                "unanswered": ingest.errors,
            },
            "bars": bars,
        }))
    }
    .await;
    own.stop().await?;
    outcome
}

/// A section's name and its station's code.
struct Section {
    name: String,
    mn: String,
}

/// Registers the sections, spread over Shiyan's counties, straight in the store: the
/// bench's token records samples, and managing sections is another role's.
async fn sections(own: &OwnServer) -> Result<Vec<Section>> {
    let db = own.store.db();
    let counties = region::Entity::find()
        .filter(region::Column::Level.eq(3))
        .filter(region::Column::Path.starts_with("/420000/420300/"))
        .order_by_asc(region::Column::Code)
        .all(db)
        .await
        .context("Shiyan's counties")?;
    ensure!(!counties.is_empty(), "no counties in Shiyan");
    let mut made = Vec::with_capacity(SECTIONS);
    for i in 0..SECTIONS {
        let county = &counties[i % counties.len()];
        let now = Utc::now();
        let row = monitoring_section::ActiveModel {
            code: Set(format!("SY-BENCH-{i:02}")),
            display_name: Set(format!("测试断面{i:02}")),
            water_body: Set("汉江支流".to_owned()),
            water_body_type: Set(WaterBodyType::River),
            region_code: Set(county.code.clone()),
            region_path: Set(county.path.clone()),
            responsible_code: Set(county.code.clone()),
            responsible_path: Set(county.path.clone()),
            responsible_unit: Set("县生态环境局".to_owned()),
            target_class: Set(WaterClass::II),
            control_level: Set(ControlLevel::Provincial),
            upstream_section_id: Set(None),
            latitude_micro: Set(None),
            longitude_micro: Set(None),
            state: Set(SectionState::Active),
            create_time: Set(now),
            update_time: Set(now),
            revision: Set(1),
            ..Default::default()
        }
        .insert(db)
        .await
        .context("inserting a section")?;
        made.push(Section {
            name: format!("monitoringSections/{}", row.id),
            mn: format!("420300BENCH{i:013}"),
        });
    }
    Ok(made)
}

/// A small deterministic mixer, so that every run records the same values.
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The 9 values of the `n`th sample, as (parameter number, HJ 212 factor code, decimal):
/// class II by every item, but one sample in 500 holds NH3-N of class IV.
fn values(n: u64) -> [(i32, &'static str, String); 9] {
    let r = mix(n);
    let wobble = |shift: u32, span: u64| (r >> shift) % span;
    let ammonia = if r % 500 == 0 {
        "1.2".to_owned()
    } else {
        format!("0.{:02}", 15 + wobble(8, 30))
    };
    [
        (
            1,
            "w01010",
            format!("{}.{}", 12 + wobble(12, 14), wobble(16, 10)),
        ),
        (2, "w01001", format!("7.{:02}", 20 + wobble(20, 70))),
        (
            3,
            "w01009",
            format!("{}.{}", 7 + wobble(24, 3), wobble(28, 10)),
        ),
        (4, "w01019", format!("2.{}", wobble(32, 10))),
        (
            5,
            "w01018",
            format!("{}.{}", 9 + wobble(36, 5), wobble(40, 10)),
        ),
        (6, "w01017", format!("1.{}", wobble(44, 10))),
        (7, "w21003", ammonia),
        (8, "w21011", format!("0.0{}", 3 + wobble(48, 6))),
        (9, "w21001", format!("1.{:02}", wobble(52, 90))),
    ]
}

/// The sample of hour slot `n`: section `n % 50`, the `n / 50`th hour of the year.
fn slot_sample(sections: &[String], year_start: DateTime<Utc>, n: usize) -> WaterSample {
    let time = year_start + TimeDelta::hours((n / SECTIONS) as i64);
    WaterSample {
        section: sections[n % SECTIONS].clone(),
        sample_time: Some(prost_types::Timestamp {
            seconds: time.timestamp(),
            nanos: 0,
        }),
        source: 2,
        values: values(n as u64)
            .into_iter()
            .map(|(parameter, _, value)| WaterValue {
                parameter,
                value,
                flag: 0,
            })
            .collect(),
        ..Default::default()
    }
}

struct Rate {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// RecordWaterSample of the next hour slots from `config.concurrency` clients for the
/// warm-up and measured time, or (`timed` false) until the year is full.
async fn record(
    config: &BenchConfig,
    channels: &[Authed],
    sections: &[Section],
    (year_start, hours): (DateTime<Utc>, usize),
    slots: &Arc<AtomicUsize>,
    timed: bool,
) -> Result<Rate> {
    let names: Arc<Vec<String>> = Arc::new(sections.iter().map(|s| s.name.clone()).collect());
    let until = Instant::now() + config.warmup + config.measure;
    let measure_from = Instant::now() + config.warmup;
    let mut tasks = JoinSet::new();
    for t in 0..config.concurrency {
        let mut client = WaterQualityServiceClient::new(channels[t % channels.len()].clone());
        let (slots, names) = (slots.clone(), names.clone());
        tasks.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0u64);
            while !timed || Instant::now() < until {
                let n = slots.fetch_add(1, Ordering::Relaxed);
                if n >= SECTIONS * hours {
                    break;
                }
                let started = Instant::now();
                let outcome = client
                    .record_water_sample(RecordWaterSampleRequest {
                        sample: Some(slot_sample(&names, year_start, n)),
                        request_id: String::new(),
                    })
                    .await;
                if !timed || started >= measure_from {
                    match outcome {
                        Ok(_) => latencies.push(started.elapsed().as_micros() as u32),
                        Err(_) => errors += 1,
                    }
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0u64);
    while let Some(joined) = tasks.join_next().await {
        let (l, e) = joined.context("a water client panicked")?;
        latencies.extend(l);
        errors += e;
    }
    // Slots that ran out before the measured time ended would make the rate look low.
    ensure!(
        !timed || slots.load(Ordering::Relaxed) < SECTIONS * hours,
        "the {hours} hours ran out while RecordWaterSample was measured: \
         raise DUIKOU_BENCH_WATER_HOURS"
    );
    latencies.sort_unstable();
    Ok(Rate {
        rate: latencies.len() as f64 / config.measure.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.5),
        p99_ms: percentile_ms(&latencies, 0.99),
        errors,
    })
}

/// Records the hour slots left until the year is full; the errors.
async fn record_rest(
    config: &BenchConfig,
    channels: &[Authed],
    sections: &[Section],
    year: (DateTime<Utc>, usize),
    slots: &Arc<AtomicUsize>,
) -> Result<u64> {
    Ok(record(config, channels, sections, year, slots, false)
        .await?
        .errors)
}

struct Assessed {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    sections: i32,
}

/// GetWaterQualityAssessment of Shiyan over the year, one call after another.
async fn assess(channel: &Authed, year_start: DateTime<Utc>, hours: usize) -> Result<Assessed> {
    let china = TimeDelta::hours(8);
    let request = GetWaterQualityAssessmentRequest {
        scope: "regions/420300".to_owned(),
        period_start: (year_start + china).date_naive().to_string(),
        period_end: (Utc::now() + china).date_naive().to_string(),
    };
    let mut client = WaterQualityServiceClient::new(channel.clone());
    let first = client
        .get_water_quality_assessment(request.clone())
        .await
        .context("assessing Shiyan")?
        .into_inner();
    ensure!(
        first.section_count == SECTIONS as i32,
        "the assessment covers {} sections",
        first.section_count
    );
    let valid: i64 = first.sections.iter().map(|s| s.valid_samples).sum();
    ensure!(
        valid >= (SECTIONS * hours) as i64,
        "the assessment counts {valid} samples"
    );
    let mut latencies = Vec::with_capacity(ASSESSMENTS);
    for _ in 0..ASSESSMENTS {
        let started = Instant::now();
        client
            .get_water_quality_assessment(request.clone())
            .await
            .context("assessing Shiyan")?;
        latencies.push(started.elapsed().as_micros() as u32);
    }
    latencies.sort_unstable();
    Ok(Assessed {
        p50_ms: percentile_ms(&latencies, 0.5),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: percentile_ms(&latencies, 1.0),
        sections: first.section_count,
    })
}

/// A registered station: its code and password.
struct Station {
    mn: String,
    password: String,
}

/// Registers a station at each section, as the bench's MONITOR.
async fn register_stations(channel: &Authed, sections: &[Section]) -> Result<Vec<Station>> {
    let mut client = WaterQualityServiceClient::new(channel.clone());
    let mut stations = Vec::with_capacity(sections.len());
    for section in sections {
        let made = client
            .create_monitoring_station(CreateMonitoringStationRequest {
                monitoring_station: Some(MonitoringStation {
                    mn: section.mn.clone(),
                    section: section.name.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .context("registering a station")?
            .into_inner();
        stations.push(Station {
            mn: made.mn,
            password: made.password,
        });
    }
    Ok(stations)
}

/// The `k`th real-time packet of `station`: its readings of `k` seconds before `now`.
fn packet(station: &Station, k: u64, now: DateTime<Utc>) -> Vec<u8> {
    let local = now + TimeDelta::hours(8) - TimeDelta::seconds(k as i64 + 1);
    let cp: Vec<String> = values(k)
        .into_iter()
        .map(|(_, code, value)| format!("{code}-Rtd={value},{code}-Flag=N"))
        .collect();
    hj212::frame(&format!(
        "QN={}000;ST=21;CN=2011;PW={};MN={};Flag=5;CP=&&DataTime={};{}&&",
        local.format("%Y%m%d%H%M%S"),
        station.password,
        station.mn,
        local.format("%Y%m%d%H%M%S"),
        cp.join(";")
    ))
}

/// HJ 212 packets over `STATION_CONNECTIONS` connections, each sending `WINDOW` packets
/// and reading their answers in turn, for the warm-up and measured time.
async fn ingest(config: &BenchConfig, addr: SocketAddr, stations: &[Station]) -> Result<Rate> {
    let now = Utc::now();
    let until = Instant::now() + config.warmup + config.measure;
    let measure_from = Instant::now() + config.warmup;
    let mut tasks = JoinSet::new();
    for c in 0..STATION_CONNECTIONS {
        let mine: Vec<Station> = stations
            .iter()
            .skip(c)
            .step_by(STATION_CONNECTIONS)
            .map(|s| Station {
                mn: s.mn.clone(),
                password: s.password.clone(),
            })
            .collect();
        tasks.spawn(async move {
            let stream = TcpStream::connect(addr)
                .await
                .context("connecting a station")?;
            stream.set_nodelay(true).context("TCP_NODELAY")?;
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            let (mut answered, mut unanswered) = (0u64, 0u64);
            let mut k = 0u64;
            let mut line = Vec::new();
            while Instant::now() < until {
                let mut window = Vec::with_capacity(WINDOW * 700);
                for _ in 0..WINDOW {
                    let station = &mine[(k as usize) % mine.len()];
                    window.extend_from_slice(&packet(station, k / mine.len() as u64, now));
                    k += 1;
                }
                let sent = Instant::now();
                write.write_all(&window).await.context("sending packets")?;
                for _ in 0..WINDOW {
                    line.clear();
                    let read = tokio::time::timeout(
                        Duration::from_secs(10),
                        read.read_until(b'\n', &mut line),
                    )
                    .await;
                    match read {
                        Ok(Ok(n)) if n > 0 && line.windows(7).any(|w| w == b"CN=9014") => {
                            if sent >= measure_from {
                                answered += 1;
                            }
                        }
                        _ => {
                            unanswered += 1;
                            return Ok::<_, anyhow::Error>((answered, unanswered));
                        }
                    }
                }
            }
            Ok((answered, unanswered))
        });
    }
    let (mut answered, mut unanswered) = (0u64, 0u64);
    while let Some(joined) = tasks.join_next().await {
        let (a, u) = joined.context("a station client panicked")??;
        answered += a;
        unanswered += u;
    }
    Ok(Rate {
        rate: answered as f64 / config.measure.as_secs_f64(),
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        errors: unanswered,
    })
}
