"""Social-media chatter to wrap excerpts in, per query language (templates written for this evaluation).

Three kinds of line, as a chatty first-person post has them: openers
(greetings, "look what they write"), asides (first-person reactions) and
closers (calls to share, sign-offs).  Some openers end without punctuation
so that, with an emoji after them, they run straight into the quoted text:
the hardest case for sentence segmentation.  Conversational sentences from
LASER Tatoeba (CC BY 2.0 FR) are added as further asides where that set
has the language (eval/text_sets.py).
"""

from __future__ import annotations

EMOJI = ["😱", "👇", "🙏", "❤️", "😂", "👍", "📢", "🔥", "😢", "🤔", "‼️", "👀", "✅", "📰", "☀️", "💯"]

CHATTER: dict[str, dict[str, list[str]]] = {
    "rus_Cyrl": {
        "open": ["Всем привет!", "Доброе утро, друзья", "Ребята, смотрите, что пишут", "Только что увидела это в ленте",
                 "Не могу не поделиться.", "Привет всем, кто читает мой канал!", "Ну что, новости дня", "Друзья, внимание!"],
        "aside": ["Я в шоке.", "Честно, даже не знаю, что сказать.", "Кто-нибудь слышал об этом раньше?",
                  "Мама мне вчера тоже рассказывала.", "У нас во дворе все только об этом и говорят.", "Вот это да!",
                  "Как вам такое?", "Я сначала не поверил."],
        "close": ["Делитесь с друзьями!", "Пишите в комментариях, что думаете!", "Берегите себя.",
                  "Подписывайтесь, чтобы не пропустить новое.", "Всем хорошего дня!", "Ставьте лайк, если согласны.",
                  "Жду ваших мнений.", "До связи!"],
    },
    "kaz_Cyrl": {
        "open": ["Бәріне сәлем!", "Қайырлы таң, достар", "Достар, қараңдаршы не жазып жатыр", "Мұны жаңа ғана көрдім",
                 "Бөліспей тұра алмадым.", "Арнама жазылғандардың бәріне сәлем!", "Ал, бүгінгі жаңалықтар", "Достар, назар аударыңыз!"],
        "aside": ["Мен шошып кеттім.", "Шынымды айтсам, не дерімді білмеймін.", "Бұл туралы бұрын біреу естіді ме?",
                  "Анам да кеше айтып берген.", "Ауламызда бәрі осы туралы айтып жүр.", "Мынау керемет екен!",
                  "Бұған не дейсіздер?", "Алдымен сенбедім."],
        "close": ["Достарыңызбен бөлісіңіз!", "Пікірлеріңізді жазыңыздар!", "Өздеріңізді күтіңіздер.",
                  "Жаңалықтарды жіберіп алмау үшін жазылыңыз.", "Барлығыңызға сәтті күн!", "Келіссеңіз, лайк басыңыз.",
                  "Пікірлеріңізді күтемін.", "Хабарласамыз!"],
    },
    "uzn_Latn": {
        "open": ["Hammaga salom!", "Xayrli tong, do‘stlar", "Do‘stlar, qaranglar nima yozishyapti", "Buni hozirgina lentada ko‘rdim",
                 "Ulashmasdan turolmadim.", "Kanalimni o‘qiyotganlarning barchasiga salom!", "Xo‘sh, kun yangiliklari", "Do‘stlar, diqqat!"],
        "aside": ["Men hayratdaman.", "Rostini aytsam, nima deyishni ham bilmayman.", "Bu haqida oldin kimdir eshitganmi?",
                  "Kecha onam ham aytib bergan edi.", "Mahallamizda hamma faqat shu haqida gapiryapti.", "Voy-bo‘y!",
                  "Bunga nima deysizlar?", "Avvaliga ishonmadim."],
        "close": ["Do‘stlaringiz bilan ulashing!", "Fikringizni izohlarda yozing!", "O‘zingizni asrang.",
                  "Yangiliklarni o‘tkazib yubormaslik uchun obuna bo‘ling.", "Hammaga xayrli kun!", "Rozi bo‘lsangiz, layk bosing.",
                  "Fikrlaringizni kutaman.", "Aloqada bo‘lamiz!"],
    },
    "tgk_Cyrl": {
        "open": ["Салом ба ҳама!", "Субҳ ба хайр, дӯстон", "Дӯстон, бинед, ки чӣ менависанд", "Инро ҳоло дар лента дидам",
                 "Натавонистам мубодила накунам.", "Салом ба ҳамаи хонандагони канали ман!", "Хуб, хабарҳои рӯз", "Дӯстон, диққат!"],
        "aside": ["Ман дар ҳайратам.", "Рости гап, намедонам чӣ гӯям.", "Касе пештар дар ин бора шунида буд?",
                  "Модарам ҳам дирӯз нақл карда буд.", "Дар маҳаллаи мо ҳама танҳо дар ин бора гап мезананд.", "Ана ин кор!",
                  "Ба ин чӣ мегӯед?", "Аввал бовар накардам."],
        "close": ["Бо дӯстонатон мубодила кунед!", "Фикратонро дар шарҳҳо нависед!", "Худро эҳтиёт кунед.",
                  "Обуна шавед, то хабарҳои навро аз даст надиҳед.", "Ба ҳама рӯзи хуш!", "Агар розӣ бошед, лайк гузоред.",
                  "Интизори андешаҳои шумо ҳастам.", "То вохӯрӣ!"],
    },
    "kir_Cyrl": {
        "open": ["Баарыңарга салам!", "Кутман таң, достор", "Достор, карагылачы эмне жазып жатышат", "Муну азыр эле лентадан көрдүм",
                 "Бөлүшпөй коё албадым.", "Каналымды окугандардын баарына салам!", "Кана, күндүн жаңылыктары", "Достор, көңүл буруңуздар!"],
        "aside": ["Мен шок болдум.", "Чынымды айтсам, эмне дээримди билбейм.", "Бул тууралуу мурун бирөө уккан беле?",
                  "Апам да кечээ айтып берген.", "Короодо баары ушул тууралуу гана сүйлөшүп жатышат.", "Мына сага!",
                  "Буга эмне дейсиңер?", "Адегенде ишенген жокмун."],
        "close": ["Досторуңуз менен бөлүшүңүз!", "Пикириңизди комментарийге жазыңыз!", "Өзүңүздөрдү сактагыла.",
                  "Жаңылыктарды өткөрүп жибербөө үчүн жазылыңыз.", "Баарыңарга ийгиликтүү күн!", "Макул болсоңуз, лайк басыңыз.",
                  "Пикирлериңизди күтөм.", "Байланышта болобуз!"],
    },
    "tuk_Latn": {
        "open": ["Hemmäňize salam!", "Ertiriňiz haýyrly bolsun, dostlar", "Dostlar, serediň, näme ýazýarlar", "Muny häzir lentada gördüm",
                 "Paýlaşman durup bilmedim.", "Kanalymy okaýanlaryň hemmesine salam!", "Hawa, günüň täzelikleri", "Dostlar, üns beriň!"],
        "aside": ["Men geň galdym.", "Dogrusy, näme diýjegimi hem bilemok.", "Bu barada öň kimdir eşidipmidi?",
                  "Düýn ejem hem gürrüň berdi.", "Howlumyzda hemme diňe şu barada gürleşýär.", "Bu näme boldugy!",
                  "Bu barada näme diýýärsiňiz?", "Ilki ynanmadym."],
        "close": ["Dostlaryňyz bilen paýlaşyň!", "Pikiriňizi teswirlerde ýazyň!", "Özüňizi aýawlaň.",
                  "Täzelikleri sypdyrmazlyk üçin ýazylyň.", "Hemmäňize gowy gün!", "Razy bolsaňyz, laýk basyň.",
                  "Pikirleriňize garaşýaryn.", "Aragatnaşykda bolalyň!"],
    },
    "azj_Latn": {
        "open": ["Hamıya salam!", "Sabahınız xeyir, dostlar", "Dostlar, baxın nə yazırlar", "Bunu indicə lentdə gördüm",
                 "Paylaşmaya bilmədim.", "Kanalımı oxuyan hər kəsə salam!", "Bəli, günün xəbərləri", "Dostlar, diqqət!"],
        "aside": ["Şokdayam.", "Düzü, nə deyəcəyimi də bilmirəm.", "Bu barədə əvvəllər kimsə eşitmişdi?",
                  "Dünən anam da danışmışdı.", "Həyətimizdə hamı yalnız bundan danışır.", "Bu nə işdir!",
                  "Buna nə deyirsiniz?", "Əvvəlcə inanmadım."],
        "close": ["Dostlarınızla paylaşın!", "Fikrinizi şərhlərdə yazın!", "Özünüzdən muğayat olun.",
                  "Yenilikləri qaçırmamaq üçün abunə olun.", "Hamıya xoş gün!", "Razısınızsa, bəyənin.",
                  "Fikirlərinizi gözləyirəm.", "Əlaqədə olaq!"],
    },
    "tat_Cyrl": {
        "open": ["Барыгызга да сәлам!", "Хәерле иртә, дуслар", "Дуслар, карагыз әле нәрсә язалар", "Моны әле генә лентада күрдем",
                 "Бүлешми кала алмадым.", "Каналымны укучыларның барысына да сәлам!", "Йә, көн яңалыклары", "Дуслар, игътибар!"],
        "aside": ["Мин шаккаттым.", "Дөресен генә әйткәндә, нәрсә әйтергә дә белмим.", "Бу турыда элек берәрсе ишеткәнме?",
                  "Кичә әни дә сөйләгән иде.", "Ишегалдында барысы да шул турыда гына сөйләшә.", "Менә сиңа!",
                  "Моңа ни диярсез?", "Башта ышанмадым."],
        "close": ["Дусларыгыз белән бүлешегез!", "Фикерегезне комментарийларда языгыз!", "Үзегезне саклагыз.",
                  "Яңалыкларны калдырмас өчен язылыгыз.", "Барыгызга да хәерле көн!", "Килешсәгез, лайк басыгыз.",
                  "Фикерләрегезне көтәм.", "Элемтәдә булыйк!"],
    },
    "arz_Arab": {
        "open": ["أهلاً يا جماعة!", "صباح الخير يا أصحابي", "يا جماعة شوفوا بيكتبوا إيه", "لسه شايف ده على الفيسبوك",
                 "ماقدرتش ماشاركش ده.", "سلام لكل اللي متابعين القناة!", "طيب، أخبار النهارده", "يا جماعة خدوا بالكم!"],
        "aside": ["أنا مصدوم.", "بصراحة مش عارف أقول إيه.", "حد سمع عن الموضوع ده قبل كده؟",
                  "ماما كانت بتحكيلي امبارح برضه.", "كل الناس في الشارع عندنا بتتكلم عن ده.", "يا سلام!",
                  "إيه رأيكم في كده؟", "في الأول ماصدقتش."],
        "close": ["شيروا مع صحابكم!", "اكتبوا رأيكم في الكومنتات!", "خلوا بالكم من نفسكم.",
                  "اعملوا سبسكرايب عشان مايفوتكمش جديد.", "يوم سعيد للكل!", "لو موافقين اعملوا لايك.",
                  "مستني آراءكم.", "نتكلم بعدين!"],
    },
}

# LASER Tatoeba file code per query language (conversational sentences used as further asides).
TATOEBA_CODE = {"rus_Cyrl": "rus", "kaz_Cyrl": "kaz", "uzn_Latn": "uzb", "tuk_Latn": "tuk", "azj_Latn": "aze",
                "tat_Cyrl": "tat", "arz_Arab": "arz"}
