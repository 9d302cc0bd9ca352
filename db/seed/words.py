"""Static vocabulary the seeder composes names, titles, addresses and scans from.

Data only: changing any list changes every seeded row, so edit deliberately.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_NAMES: tuple[str, ...] = (
    "Maya", "Liam", "Aisha", "Noah", "Sofia", "Mateo", "Priya", "Ethan", "Yuki", "Lucas",
    "Amara", "Oliver", "Zara", "Elijah", "Mei", "James", "Leila", "Diego", "Hana", "Caleb",
    "Fatima", "Henry", "Ines", "Kai", "Nora", "Omar", "Chloe", "Ravi", "Grace", "Jonah",
    "Isla", "Tariq", "Ava", "Felix", "Lina", "Marcus", "Elena", "Sami", "Ruby", "Andre",
    "Camila", "Theo", "Nadia", "Julian", "Keiko", "Owen", "Zoe", "Emeka", "Lucia", "Arjun",
    "Freya", "Malik", "Harper", "Jin", "Valentina", "Isaac", "Anika", "Leo", "Naomi", "Hugo",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Chen", "Patel", "Garcia", "Smith", "Nguyen", "Kim", "Johnson", "Okafor", "Rossi", "Silva",
    "Müller", "Tanaka", "Williams", "Haddad", "Kowalski", "Brown", "Singh", "Lopez", "Cohen",
    "Ivanova", "Martin", "Adeyemi", "Park", "Dubois", "Hansen", "Ali", "Moreau", "Jones",
    "Sato", "Fernandez", "Novak", "Walker", "Mensah", "Larsen", "Rahman", "Costa", "Murphy",
    "Yilmaz", "Bianchi", "Davis", "Schmidt", "Reyes", "Kaur", "Wright", "Ito", "Nakamura",
    "Oliveira", "Bennett", "Popescu", "Khan", "Lee", "Torres", "Andersen", "Mwangi", "Clark",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class City:
    name: str
    region: str
    postal_prefix: str
    area_code: str

    @property
    def label(self) -> str:
        return f"{self.name}, {self.region}, US"


CITIES: tuple[City, ...] = (
    City("Seattle", "WA", "981", "206"),
    City("Portland", "OR", "972", "503"),
    City("San Francisco", "CA", "941", "415"),
    City("Los Angeles", "CA", "900", "213"),
    City("San Diego", "CA", "921", "619"),
    City("Phoenix", "AZ", "850", "602"),
    City("Denver", "CO", "802", "303"),
    City("Austin", "TX", "787", "512"),
    City("Dallas", "TX", "752", "214"),
    City("Houston", "TX", "770", "713"),
    City("Minneapolis", "MN", "554", "612"),
    City("Chicago", "IL", "606", "312"),
    City("Detroit", "MI", "482", "313"),
    City("Columbus", "OH", "432", "614"),
    City("Nashville", "TN", "372", "615"),
    City("Atlanta", "GA", "303", "404"),
    City("Miami", "FL", "331", "305"),
    City("Orlando", "FL", "328", "407"),
    City("Charlotte", "NC", "282", "704"),
    City("Raleigh", "NC", "276", "919"),
    City("Washington", "DC", "200", "202"),
    City("Philadelphia", "PA", "191", "215"),
    City("Pittsburgh", "PA", "152", "412"),
    City("New York", "NY", "100", "212"),
    City("Brooklyn", "NY", "112", "718"),
    City("Boston", "MA", "021", "617"),
    City("Providence", "RI", "029", "401"),
    City("Salt Lake City", "UT", "841", "801"),
    City("Kansas City", "MO", "641", "816"),
    City("New Orleans", "LA", "701", "504"),
)

# Sort hubs the big carriers route through; scans mention them between origin and door.
HUBS: dict[str, tuple[str, ...]] = {
    "UPS": ("Louisville, KY, US", "Hodgkins, IL, US", "Ontario, CA, US", "Dallas, TX, US"),
    "FedEx": ("Memphis, TN, US", "Indianapolis, IN, US", "Oakland, CA, US", "Newark, NJ, US"),
    "DHL": ("Cincinnati, OH, US", "Los Angeles, CA, US", "Miami, FL, US"),
    "USPS": ("Chicago, IL, US", "Atlanta, GA, US", "Denver, CO, US", "Jersey City, NJ, US"),
}

STREETS: tuple[str, ...] = (
    "Maple", "Oak", "Cedar", "Pine", "Elm", "Willow", "Lakeview", "Hillcrest", "Sunset",
    "Park", "Washington", "Lincoln", "Highland", "Riverside", "Meadow", "Orchard", "Chestnut",
    "Magnolia", "Harbor", "Juniper",
)  # fmt: skip
STREET_SUFFIXES: tuple[str, ...] = ("St", "Ave", "Blvd", "Rd", "Ln", "Dr", "Way", "Ct")


@dataclass(frozen=True, slots=True)
class CategoryWords:
    """How one category names its products, prices them and describes them."""

    pattern: str  # placeholders: {adj} {qual} {noun}
    adjectives: tuple[str, ...]
    qualifiers: tuple[str, ...]
    nouns: tuple[str, ...]
    price_range: tuple[int, int]  # USD minor units, inclusive
    blurbs: tuple[str, ...]
    shop_words: tuple[str, ...]


CATEGORIES: dict[str, CategoryWords] = {
    "beauty": CategoryWords(
        "{adj} {qual} {noun}",
        ("Hydrating", "Brightening", "Soothing", "Nourishing", "Matte", "Dewy", "Velvet",
         "Overnight", "Gentle", "Radiant"),
        ("Rosewater", "Vitamin C", "Hyaluronic", "Niacinamide", "Shea Butter", "Green Tea",
         "Ceramide", "Peptide", "Aloe", "Jojoba"),
        ("Face Mist", "Serum", "Lip Tint", "Cleanser", "Night Cream", "Sheet Mask",
         "Eye Cream", "Setting Spray", "Body Lotion", "Toner"),
        (799, 6_500),
        ("Dermatologist tested and fragrance free.",
         "Absorbs in seconds and layers well under makeup.",
         "Cruelty free, vegan formula in recyclable packaging.",
         "A cult favourite from our morning routine videos."),
        ("Glow", "Bloom", "Dewdrop", "Petal", "Lumen", "Velvet"),
    ),
    "fashion": CategoryWords(
        "{adj} {qual} {noun}",
        ("Oversized", "Relaxed", "Cropped", "Classic", "Vintage", "Ribbed", "Quilted",
         "Pleated", "Everyday", "Tailored"),
        ("Cotton", "Denim", "Wool", "Satin", "Corduroy", "Knit", "Leather", "Fleece", "Linen",
         "Cashmere-Blend"),
        ("Crewneck Sweater", "Cardigan", "Wide-Leg Trousers", "Midi Skirt", "Bomber Jacket",
         "Tote Bag", "Bucket Hat", "Button-Down Shirt", "Sneakers", "Scarf"),
        (1_499, 12_000),
        ("True to size; the model is 5'9\" and wears a medium.",
         "Pre-washed for a soft, lived-in feel.",
         "Machine washable on cold, hang to dry.",
         "Restocked after selling out in our last live show."),
        ("Thread", "Atelier", "Hemline", "Loom", "Stitch", "Mode"),
    ),
    "home": CategoryWords(
        "{adj} {qual} {noun}",
        ("Minimalist", "Handwoven", "Scandi", "Textured", "Cozy", "Rustic", "Modern", "Boho",
         "Sculpted", "Soft"),
        ("Linen", "Jute", "Oak", "Rattan", "Velvet", "Boucle", "Stoneware", "Bamboo", "Wool",
         "Marble"),
        ("Throw Pillow", "Table Lamp", "Area Rug", "Wall Mirror", "Throw Blanket", "Vase",
         "Storage Basket", "Scented Candle", "Picture Frame", "Plant Stand"),
        (1_199, 15_000),
        ("Made in small batches, so each piece varies slightly.",
         "Neutral tones that work in any room.",
         "Ships fully assembled in plastic-free packaging.",
         "Styled in our apartment makeover series."),
        ("Nest", "Hearth", "Dwell", "Haven", "Nook", "Oakline"),
    ),
    "kitchen": CategoryWords(
        "{adj} {qual} {noun}",
        ("Nonstick", "Stainless", "Collapsible", "Professional", "Compact", "Heat-Resistant",
         "Reusable", "Airtight", "Precision", "Everyday"),
        ("Steel", "Silicone", "Ceramic", "Glass", "Acacia Wood", "Copper", "Carbon Steel",
         "Enamel", "Bamboo", "Cast-Iron"),
        ("Skillet", "Chef's Knife", "Mixing Bowl Set", "Pour-Over Kettle", "Cutting Board",
         "Spatula Set", "Food Storage Containers", "Dutch Oven", "Measuring Cups",
         "French Press"),
        (899, 12_000),
        ("Dishwasher safe and oven safe up to 450°F.",
         "Balanced, comfortable grip for long prep sessions.",
         "Backed by a lifetime warranty.",
         "The one we use in every recipe video."),
        ("Pantry", "Simmer", "Whisk", "Larder", "Saucepan", "Copperpot"),
    ),
    "electronics": CategoryWords(
        "{adj} {noun} {qual}",
        ("Wireless", "Noise-Cancelling", "Portable", "Fast-Charging", "Smart", "Ultra-Slim",
         "Bluetooth", "Waterproof", "Compact", "Magnetic"),
        ("Pro", "Mini", "Max", "Lite", "Plus", "2-in-1", "4K", "65W", "Gen 2", "Studio"),
        ("Earbuds", "Speaker", "Power Bank", "Phone Stand", "Ring Light", "Webcam",
         "Charging Pad", "Keyboard", "Smartwatch", "Action Camera"),
        (1_499, 40_000),
        ("USB-C charging with up to 30 hours of battery life.",
         "Pairs instantly with iOS and Android.",
         "Includes a one-year limited warranty.",
         "Unboxed and tested live on our channel."),
        ("Volt", "Pixel", "Circuit", "Signal", "Byte", "Amp"),
    ),
    "toys": CategoryWords(
        "{adj} {qual} {noun}",
        ("Wooden", "Magnetic", "Plush", "Glow-in-the-Dark", "Stackable", "Rainbow",
         "Remote-Control", "Musical", "Interactive", "Mini"),
        ("Dinosaur", "Unicorn", "Rocket", "Robot", "Farm Animal", "Ocean", "Space",
         "Construction", "Jungle", "Fairy"),
        ("Building Blocks", "Puzzle", "Plush Toy", "Play Set", "Stacking Rings", "Train Set",
         "Activity Cube", "Figure Set", "Bath Toys", "Kite"),
        (799, 6_000),
        ("Non-toxic paints, tested to ASTM F963.",
         "Recommended for ages 3 and up.",
         "Batteries included where needed.",
         "A hit in our weekend play-time streams."),
        ("Toybox", "Jellybean", "Pinwheel", "Marble", "Kazoo", "Doodle"),
    ),
    "sports": CategoryWords(
        "{adj} {qual} {noun}",
        ("Lightweight", "Adjustable", "Non-Slip", "Breathable", "Quick-Dry", "Heavy-Duty",
         "Ergonomic", "Foldable", "Weighted", "Compression"),
        ("Yoga", "Running", "Cycling", "Tennis", "Gym", "Boxing", "Pilates", "Basketball",
         "Swim", "Training"),
        ("Mat", "Water Bottle", "Resistance Bands", "Gloves", "Shorts", "Jump Rope",
         "Foam Roller", "Duffel Bag", "Socks (3-Pack)", "Headband"),
        (999, 18_000),
        ("Sweat-wicking and built for daily training.",
         "Used by the coaches in our 30-day challenge.",
         "Free returns within 30 days.",
         "Sized for every body; see the fit guide."),
        ("Stride", "Peak", "Rally", "Pulse", "Sprint", "Apex"),
    ),
    "books": CategoryWords(
        "The {adj} {noun} ({qual})",
        ("Quiet", "Midnight", "Lost", "Hidden", "Burning", "Silver", "Last", "Wandering",
         "Forgotten", "Golden"),
        ("Paperback", "Hardcover", "Illustrated Edition", "Signed Copy", "Box Set",
         "Collector's Edition", "Large Print", "Paperback", "Hardcover", "Paperback"),
        ("Orchard", "Lighthouse", "Garden", "Kingdom", "Archive", "River", "Letters",
         "Harbor", "Atlas", "Season"),
        (699, 3_500),
        ("A BookTok favourite with over a million readers.",
         "Winner of three regional book awards.",
         "The first in a bestselling trilogy.",
         "Discussed in our monthly book club live."),
        ("Chapter", "Margins", "Inkwell", "Folio", "Bookmark", "Quill"),
    ),
    "pets": CategoryWords(
        "{adj} {qual} {noun}",
        ("Orthopedic", "Chew-Proof", "Interactive", "Grain-Free", "Reflective", "Washable",
         "Calming", "Automatic", "Portable", "Cozy"),
        ("Dog", "Cat", "Puppy", "Kitten", "Small Pet", "Senior Dog", "Large Breed",
         "Indoor Cat", "Bird", "Rabbit"),
        ("Bed", "Treats", "Leash", "Harness", "Puzzle Feeder", "Scratching Post",
         "Grooming Brush", "Water Fountain", "Toy Bundle", "Carrier"),
        (499, 8_000),
        ("Vet approved and made without fillers.",
         "Machine washable cover, easy to keep fresh.",
         "Tested by the pets of our team.",
         "Featured in our rescue-of-the-week videos."),
        ("Paws", "Whisker", "Fetch", "Tailwag", "Biscuit", "Pawprint"),
    ),
    "snacks": CategoryWords(
        "{adj} {qual} {noun}",
        ("Spicy", "Sea Salt", "Honey Roasted", "Sour", "Crunchy", "Dark Chocolate", "Organic",
         "Keto", "Smoked", "Matcha"),
        ("Almond", "Seaweed", "Mango", "Peanut", "Rice", "Coconut", "Pistachio", "Chickpea",
         "Cheddar", "Strawberry"),
        ("Chips", "Clusters", "Gummies", "Crackers", "Protein Bars (12-Pack)", "Trail Mix",
         "Cookies", "Jerky", "Popcorn", "Mochi"),
        (299, 2_500),
        ("Small-batch, no artificial colours.",
         "Gluten free and made in a nut-aware facility.",
         "Our most-requested taste test snack.",
         "Best before date at least 6 months out."),
        ("Munch", "Crumb", "Nibble", "Snackbar", "Pantry Raid", "Crunch"),
    ),
    "outdoor": CategoryWords(
        "{adj} {qual} {noun}",
        ("Ultralight", "Insulated", "Waterproof", "Packable", "All-Season", "Rugged",
         "Solar", "Collapsible", "Windproof", "Thermal"),
        ("2-Person", "Trail", "Camp", "Summit", "Backcountry", "Expedition", "Hiking",
         "Alpine", "Basecamp", "Coastal"),
        ("Tent", "Sleeping Bag", "Backpack", "Headlamp", "Camping Chair", "Rain Jacket",
         "Hammock", "Cooler", "Lantern", "Trekking Poles"),
        (1_499, 30_000),
        ("Field tested on a week-long thru-hike.",
         "Packs down small and weighs next to nothing.",
         "Backed by a no-questions repair program.",
         "Seen in our national parks road-trip series."),
        ("Trailhead", "Ridge", "Campfire", "Basecamp", "Timber", "Wildland"),
    ),
    "crafts": CategoryWords(
        "{adj} {qual} {noun}",
        ("Beginner", "Deluxe", "Pastel", "Metallic", "Acid-Free", "Hand-Dyed", "Mini",
         "Professional", "Watercolor", "Eco"),
        ("Embroidery", "Knitting", "Calligraphy", "Origami", "Resin", "Pottery", "Macrame",
         "Scrapbook", "Crochet", "Candle-Making"),
        ("Kit", "Yarn Bundle", "Brush Set", "Paper Pack", "Pen Set", "Tool Kit",
         "Sticker Sheets", "Bead Set", "Sketchbook", "Starter Set"),
        (399, 5_000),
        ("Everything you need to finish your first project.",
         "Step-by-step video tutorial included.",
         "Non-toxic materials, safe for older kids.",
         "Used in our Sunday craft-along streams."),
        ("Craft", "Paperie", "Yarnery", "Makers", "Glue & Glitter", "Handmade"),
    ),
}  # fmt: skip

SHOP_SUFFIXES: tuple[str, ...] = (
    "Studio", "Co.", "Shop", "House", "Supply", "Goods", "Market", "Lab", "Collective", "Corner",
)  # fmt: skip

CLOSINGS: tuple[str, ...] = (
    "Ships within 2 business days.",
    "Free shipping on orders over $50.",
    "Limited stock: tag it to get restock alerts.",
    "Questions? Message the shop any time.",
)
